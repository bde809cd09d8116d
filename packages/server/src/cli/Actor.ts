/** Who a command acts as, for the audit trails and histories: `--by`, else `cli:<os user>`. */
import { Options } from "@effect/cli"
import { Option } from "effect"
import { userInfo } from "node:os"

export const by = Options.text("by").pipe(
  Options.withDescription("Who acts (recorded in histories and audit trails); default cli:<your user name>."),
  Options.optional
)

const osUser = () => {
  const fromEnv = process.env.USER ?? process.env.USERNAME
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv
  const info = Option.liftThrowable(() => userInfo())()
  return Option.isSome(info) ? info.value.username : "unknown"
}

export const resolve = (given: Option.Option<string>): string => Option.getOrElse(given, () => `cli:${osUser()}`)
