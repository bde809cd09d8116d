/**
 * The gate every request body passes before a handler sees it (`/v1/*` and `/rpc`): a size limit,
 * a JSON content type, valid UTF-8 and valid JSON; for `/rpc`, each request message must name an
 * RPC of the group and its payload must decode. A refusal is a 4xx with a JSON body
 * (`Redrive/BadRequest`) listing every problem found, and nothing runs.
 *
 * HttpApi's own decode failures (path, query, body schemas) answer `HttpApiDecodeError` with a
 * rendered tree; they are rewritten here into the same `Redrive/BadRequest` shape: every issue as
 * a dotted path and a message.
 *
 * Node decodes bodies as UTF-8 and turns invalid bytes into U+FFFD, so a body holding U+FFFD is
 * refused as invalid UTF-8 (a client meaning the character itself can send `\ufffd` escaped).
 */
import { HttpIncomingMessage, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { FileSystem } from "@effect/platform"
import { Effect, Either, Option, ParseResult, Schema } from "effect"
import type { Issue } from "../ApiErrors.js"
import { RedriveRpcs } from "../rpc/RedriveRpcs.js"

export interface GateOptions {
  /** The largest body accepted, in bytes. */
  readonly maxBodyBytes: number
}

const refuse = (status: number, message: string, issues: ReadonlyArray<Issue>) =>
  HttpServerResponse.unsafeJson({ _tag: "Redrive/BadRequest", message, issues }, { status })

const withBody = new Set(["POST", "PUT", "PATCH"])

/** Every issue of a ParseError, as `path: message` pairs under `prefix`. */
export const issuesOf = (prefix: string, error: ParseResult.ParseError): ReadonlyArray<Issue> => {
  const all = ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter((p) => p.length > 0).join("."),
    message: issue.message
  }))
  // An optional field's union also reports "Expected undefined": noise next to the real issue.
  return all.filter((i) => !(i.message.startsWith("Expected undefined") && all.some((o) => o !== i && o.path === i.path)))
}

const rpcPayloads = new Map<string, (u: unknown) => Either.Either<unknown, ParseResult.ParseError>>(
  [...RedriveRpcs.requests.values()].map((rpc) => [
    rpc._tag,
    Schema.decodeUnknownEither(rpc.payloadSchema as Schema.Schema<unknown, unknown>, { errors: "all", onExcessProperty: "error" })
  ])
)

/** The problems of an RPC body (a message or an array of messages), every one of them. */
const rpcIssues = (body: unknown): ReadonlyArray<Issue> => {
  const messages = Array.isArray(body) ? body : [body]
  const issues: Array<Issue> = []
  messages.forEach((message, i) => {
    const at = Array.isArray(body) ? `${i}` : ""
    const where = (p: string) => [at, p].filter((s) => s.length > 0).join(".")
    if (typeof message !== "object" || message === null || !("_tag" in message)) {
      issues.push({ path: where("_tag"), message: "expected an RPC message object with a _tag" })
      return
    }
    if (message._tag !== "Request") return
    const tag = "tag" in message ? message.tag : undefined
    const decode = typeof tag === "string" ? rpcPayloads.get(tag) : undefined
    if (decode === undefined) {
      issues.push({ path: where("tag"), message: `unknown RPC ${JSON.stringify(tag)}` })
      return
    }
    const payload = "payload" in message ? message.payload : undefined
    const result = decode(payload)
    if (result._tag === "Left") issues.push(...issuesOf(where("payload"), result.left))
  })
  return issues
}

const DecodeErrorBody = Schema.parseJson(Schema.Struct({
  _tag: Schema.Literal("HttpApiDecodeError"),
  issues: Schema.Array(Schema.Struct({ path: Schema.Array(Schema.Union(Schema.String, Schema.Number)), message: Schema.String }))
}))
const decodeDecodeError = Schema.decodeUnknownOption(DecodeErrorBody)
const textDecoder = new TextDecoder()

/** HttpApiDecodeError → Redrive/BadRequest (every issue, the union noise dropped); other responses pass. */
const reshape = (response: HttpServerResponse.HttpServerResponse, where: string) => {
  if (response.status !== 400 || response.body._tag !== "Uint8Array") return response
  const decoded = decodeDecodeError(textDecoder.decode(response.body.body))
  if (Option.isNone(decoded)) return response
  const all = decoded.value.issues.map((i) => ({ path: [where, ...i.path.map(String)].filter((p) => p.length > 0).join("."), message: i.message }))
  const issues = all.filter((i) => !(i.message.startsWith("Expected undefined") && all.some((o) => o !== i && o.path === i.path)))
  return refuse(400, `the request does not decode (${issues.length} problem${issues.length === 1 ? "" : "s"})`, issues)
}

const isJsonType = (contentType: string) => /^application\/json\s*(;|$)/i.test(contentType.trim())

export const make = (options: GateOptions) =>
  <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const path = request.url.split("?")[0] ?? ""
      if (!(path.startsWith("/v1/") || path === "/rpc")) return yield* app
      if (!withBody.has(request.method)) return reshape(yield* app, "")
      const limit = options.maxBodyBytes
      const declared = Number(request.headers["content-length"] ?? "0")
      if (Number.isFinite(declared) && declared > limit) {
        return refuse(413, `the body is over ${limit} bytes`, [{ path: "body", message: `${declared} bytes; the limit is ${limit}` }])
      }
      const text = yield* request.text.pipe(
        HttpIncomingMessage.withMaxBodySize(Option.some(FileSystem.Size(limit))),
        Effect.either
      )
      if (text._tag === "Left") {
        const tooLarge = String(text.left.cause).includes("maxBytes")
        return tooLarge
          ? refuse(413, `the body is over ${limit} bytes`, [{ path: "body", message: `the limit is ${limit} bytes` }])
          : refuse(400, "the body could not be read", [{ path: "body", message: text.left.message }])
      }
      const body = text.right
      if (body.length === 0 && path !== "/rpc") return reshape(yield* app, "")
      const issues: Array<Issue> = []
      const contentType = request.headers["content-type"] ?? ""
      if (!isJsonType(contentType)) {
        return refuse(415, "the body must be JSON", [{
          path: "header.content-type",
          message: `expected application/json, got ${contentType === "" ? "none" : JSON.stringify(contentType.slice(0, 100))}`
        }])
      }
      if (body.includes("\uFFFD")) issues.push({ path: "body", message: "the body is not valid UTF-8" })
      const parsed = Either.try({ try: (): unknown => JSON.parse(body), catch: (e) => e instanceof Error ? e.message : String(e) })
      if (Either.isLeft(parsed)) {
        issues.push({ path: "body", message: `invalid JSON: ${parsed.left}` })
        return refuse(400, "the body is not valid JSON", issues)
      }
      if (issues.length > 0) return refuse(400, "the body is not valid UTF-8", issues)
      if (path === "/rpc") {
        const problems = rpcIssues(parsed.right)
        if (problems.length > 0) return refuse(400, "the RPC request does not decode", problems)
        return yield* app
      }
      return reshape(yield* app, "")
    })
