/**
 * The console's one API client: Effect's HttpApiClient derived from the server's own `RedriveApi`
 * definition, so every request and answer is typed and decoded by the same Schemas the server uses.
 * The operator's key goes into `Authorization: Bearer` on every request.
 */
import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { RedriveApi } from "@redrive/server/http/Api"
import { Cause, Effect, Exit, Option } from "effect"

const make = (key: string) =>
  HttpApiClient.make(RedriveApi, {
    baseUrl: window.location.origin,
    transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(key))
  }).pipe(Effect.provide(FetchHttpClient.layer))

export type Client = Effect.Effect.Success<ReturnType<typeof make>>

export const client = (key: string): Client => Effect.runSync(make(key))

/** A failed call as the pages show it: the server's error tag, a message, and the error's fields. */
export class ApiFailure extends Error {
  constructor(
    readonly tag: string,
    message: string,
    readonly status: number | undefined,
    readonly detail: Readonly<Record<string, unknown>>
  ) {
    super(message)
  }
  /** The field an InvalidPayload names (`address.zip`, or `payload`). */
  get field(): string | undefined {
    return typeof this.detail["field"] === "string" ? this.detail["field"] : undefined
  }
}

const statusOf: Record<string, number> = {
  "Redrive/Unauthenticated": 401,
  "Redrive/Forbidden": 403
}

const describe = (error: unknown): ApiFailure => {
  if (typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string") {
    // A tagged error's `message` is not an own enumerable field: copy it explicitly.
    const fields: Record<string, unknown> = { ...error, ...("message" in error ? { message: error.message } : {}) }
    const tag = error._tag.replace(/^Redrive\//, "")
    const issues = Array.isArray(fields["issues"])
      ? (fields["issues"] as ReadonlyArray<{ path?: unknown; message?: unknown }>)
        .map((i) => `${String(i.path ?? "")}: ${String(i.message ?? "")}`).join("; ")
      : ""
    const message = typeof fields["message"] === "string" && fields["message"] !== "" ? fields["message"] : ""
    const text = [message, issues].filter((s) => s !== "").join(" — ")
    return new ApiFailure(tag, text === "" ? tag : `${tag}: ${text}`, statusOf[error._tag], fields)
  }
  return new ApiFailure("Unknown", String(error), undefined, {})
}

/** Runs one call; resolves with the answer or rejects with an ApiFailure. */
export const run = async <A, E>(call: Effect.Effect<A, E>): Promise<A> => {
  const exit = await Effect.runPromiseExit(call)
  if (Exit.isSuccess(exit)) return exit.value
  const failure = Cause.failureOption(exit.cause)
  throw describe(Option.isSome(failure) ? failure.value : Cause.squash(exit.cause))
}
