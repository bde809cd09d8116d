/**
 * `redrive keys create|list|revoke|rotate`: API keys of the server (ApiKeys). A key's secret is
 * printed once, when it is created or rotated; only its SHA-256 is stored.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import type { ApiKeyInfo, CreatedKey } from "../../auth/ApiKeys.js"
import { Backend } from "../Backend.js"
import * as Connection from "../Connection.js"
import * as Output from "../Output.js"
import { withBackend } from "../Run.js"

const rows = (keys: ReadonlyArray<ApiKeyInfo>) =>
  Output.table(
    [
      { header: "id", align: "right" },
      { header: "name" },
      { header: "tenant" },
      { header: "access" },
      { header: "created" },
      { header: "last used" },
      { header: "revoked" },
      { header: "rotated from", align: "right" }
    ],
    keys.map((k) => [
      k.id,
      k.name,
      k.tenant ?? "(admin)",
      k.access,
      Output.when(k.createdAt),
      Output.when(k.lastUsedAt),
      Output.when(k.revokedAt),
      k.rotatedFrom ?? ""
    ]),
    ""
  )

const secretLines = (created: CreatedKey) => [
  ...rows([created.key]),
  "",
  `secret (shown once; store it now): ${created.secret}`
]

const create = Command.make("create", {
  ...Connection.common,
  name: Options.text("name").pipe(Options.withDescription("What the key is for (a service, a person).")),
  tenant: Options.text("tenant").pipe(Options.withDescription("A tenant key: it sees this tenant only. Without it: an admin key."), Options.optional),
  access: Options.choice("access", ["write", "read"]).pipe(
    Options.withDescription("read: inspection only; write (default): also replay, cancel, pause."),
    Options.withDefault("write" as const)
  )
}, (o) =>
  withBackend(o, Effect.gen(function*() {
    const created = yield* (yield* Backend).keysCreate({ name: o.name, tenant: Option.getOrNull(o.tenant), access: o.access })
    yield* Output.print(o.json, created, () => secretLines(created))
  }))).pipe(Command.withDescription("Create an API key; its secret is printed once."))

const list = Command.make("list", Connection.common, (o) =>
  withBackend(o, Effect.gen(function*() {
    const keys = yield* (yield* Backend).keysList
    yield* Output.print(o.json, keys, () => rows(keys))
  }))).pipe(Command.withDescription("List API keys (never their secrets)."))

const id = Args.text({ name: "id" }).pipe(Args.withDescription("The key's id (see `keys list`)."))

const revoke = Command.make("revoke", { ...Connection.common, id }, (o) =>
  withBackend(o, Effect.gen(function*() {
    const key = yield* (yield* Backend).keysRevoke(o.id)
    yield* Output.print(o.json, key, () => [`key ${key.id} (${key.name}) revoked at ${Output.when(key.revokedAt)}`])
  }))).pipe(Command.withDescription("Revoke a key: requests with it are refused from now on."))

const rotate = Command.make("rotate", { ...Connection.common, id }, (o) =>
  withBackend(o, Effect.gen(function*() {
    const created = yield* (yield* Backend).keysRotate(o.id)
    yield* Output.print(o.json, created, () => [
      ...secretLines(created),
      `both keys work until you revoke the old one: redrive keys revoke ${o.id}`
    ])
  }))).pipe(Command.withDescription("A new key with the same name, tenant and access; the old one works until revoked."))

export const command = Command.make("keys").pipe(
  Command.withDescription("API keys of the server: create, list, revoke, rotate."),
  Command.withSubcommands([create, list, revoke, rotate])
)
