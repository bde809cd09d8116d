/**
 * The email channel loads nodemailer with its first mail, not with the library: a process that
 * never sends a mail does not carry it (~14 MB of memory). Run in a fresh process, since this
 * one may have loaded it already.
 */
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { fileURLToPath } from "node:url"
import { spawnChild } from "../processFixtures.js"

const script = fileURLToPath(new URL("../fixtures/emailLoad.ts", import.meta.url))

it.scoped("nodemailer is loaded by the first mail, not by importing the library", () =>
  Effect.gen(function*() {
    const { exited, output } = yield* spawnChild(script, {})
    const code = yield* exited
    assert.strictEqual(code, 0, output())
    // {"before":false,"after":true,"sendFailed":true,"modules":…}: not loaded by the import, loaded by the mail.
    assert.match(output(), /\{"before":false,"after":true,"sendFailed":true,/, output())
  }), { timeout: 60_000 })
