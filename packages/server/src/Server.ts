/**
 * Redrive's server: the HTTP API (`/v1`, OpenAPI at `/openapi.json`, docs at `/docs`) and the
 * Effect RPC endpoint (`/rpc`) on one port, plus `/healthz`, `/readyz`, `/metrics` and the web console
 * at `/` (console/ConsoleRoutes.ts). Built on `Redrive.layer` (or `Redrive.layerWorker` with `worker`), with `JobEntity` on a SingleRunner
 * whose messages live in Postgres, so replay, cancel and retry-now are persisted and deduplicated
 * (or, with `cluster`, on a ClusterRunner shared with the other runners of the database).
 *
 * Settings (Config, from the environment unless given): REDRIVE_HTTP_PORT (default 8080),
 * REDRIVE_HTTP_HOST (default 127.0.0.1), REDRIVE_HTTP_MAX_BODY_BYTES (default 1 MiB),
 * REDRIVE_CONSOLE_DIR (default: the workspace's built packages/console/dist), and what Redrive.layer
 * reads (DATABASE_URL, REDRIVE_CURSOR_SECRET, …).
 */
import { HttpApiScalar, HttpLayerRouter } from "@effect/platform"
import { NodeContext, NodeHttpServer } from "@effect/platform-node"
import { RpcSerialization, RpcServer } from "@effect/rpc"
import { StatsRepo } from "@redrive/database"
import { ClusterRunner, DeadLetterPurge, JobEntity, type JobDefinition, Redrive, ReplayRunner } from "@redrive/jobs"
import type { ShardingConfig } from "@effect/cluster/ShardingConfig"
import { Config, Effect, Layer } from "effect"
import { createServer } from "node:http"
import * as ApiKeys from "./auth/ApiKeys.js"
import * as ConsoleRoutes from "./console/ConsoleRoutes.js"
import { RedriveApi } from "./http/Api.js"
import * as AuthorizationLayer from "./http/AuthorizationLayer.js"
import * as HttpHandlers from "./http/Handlers.js"
import * as InputGate from "./http/InputGate.js"
import * as OpsRoutes from "./http/OpsRoutes.js"
import * as PrometheusMetrics from "./http/PrometheusMetrics.js"
import * as Operations from "./Operations.js"
import { RedriveRpcs } from "./rpc/RedriveRpcs.js"
import * as RpcHandlers from "./rpc/RpcHandlers.js"

export interface HttpOptions {
  readonly port: number
  readonly host: string
  readonly maxBodyBytes: number
}

export const httpConfig: Config.Config<HttpOptions> = Config.all({
  port: Config.port("REDRIVE_HTTP_PORT").pipe(Config.withDefault(8080)),
  host: Config.string("REDRIVE_HTTP_HOST").pipe(Config.withDefault("127.0.0.1")),
  maxBodyBytes: Config.integer("REDRIVE_HTTP_MAX_BODY_BYTES").pipe(
    Config.validate({ message: "REDRIVE_HTTP_MAX_BODY_BYTES must be between 1024 and 104857600", validation: (n) => n >= 1024 && n <= 104_857_600 }),
    Config.withDefault(1024 * 1024)
  )
})

export interface ServerOptions {
  /** Port, host and body limit; default `httpConfig` (the environment). */
  readonly http?: Partial<HttpOptions>
  readonly redrive?: Redrive.RedriveOptions
  /**
   * Also run a worker in this process: maintenance (rescuer, pruner, alerts…, elected) and, for
   * the given handlers, their jobs. `{ handlers: [] }` runs maintenance only.
   */
  readonly worker?: Omit<Redrive.RedriveWorkerOptions<ReadonlyArray<JobDefinition.JobHandler<never>>>, keyof Redrive.RedriveOptions>
  /** Run bulk replay requests in this process (default true; a worker runs them as well). */
  readonly replayRunner?: boolean
  readonly shardingConfig?: Partial<ShardingConfig["Type"]>
  /**
   * Run JobEntity on a cluster runner (ClusterRunner: its own port, REDRIVE_RUNNER_HOST/PORT,
   * tuned failover) instead of a one-process SingleRunner: N servers or workers over one
   * database then share the entities, and a command sent to any of them reaches the owner.
   * `shardingConfig` above is merged over `runner.shardingConfig`.
   */
  readonly cluster?: { readonly runner?: ClusterRunner.ClusterRunnerOptions } | undefined
  /** The built web console to serve at `/`; default REDRIVE_CONSOLE_DIR, else the workspace's packages/console/dist. */
  readonly consoleDirectory?: string
}

/** The routes (API, RPC, docs, ops) over the services; needs Operations' services and the router. */
const routes = (maxBodyBytes: number, consoleDirectory: string | undefined) =>
  Layer.mergeAll(
    HttpLayerRouter.addHttpApi(RedriveApi, { openapiPath: "/openapi.json" }).pipe(
      Layer.provide(HttpHandlers.layer),
      Layer.provide(AuthorizationLayer.layer)
    ),
    RpcServer.layerHttpRouter({ group: RedriveRpcs, path: "/rpc", protocol: "http" }).pipe(
      Layer.provide(RpcHandlers.layerHandlers),
      Layer.provide(RpcHandlers.layerAuthentication),
      Layer.provide(RpcSerialization.layerJson)
    ),
    HttpApiScalar.layerHttpLayerRouter({ api: RedriveApi, path: "/docs" }),
    OpsRoutes.layer,
    ConsoleRoutes.layer(consoleDirectory),
    HttpLayerRouter.middleware(InputGate.make({ maxBodyBytes }), { global: true })
  )

const services = (options: ServerOptions) => {
  const redrive = options.worker === undefined
    ? Redrive.layer(options.redrive ?? {})
    : Redrive.layerWorker({ ...options.redrive, ...options.worker })
  const runner = options.replayRunner === false || options.worker !== undefined ? Layer.empty : ReplayRunner.layer()
  return Layer.mergeAll(Operations.layer, runner).pipe(
    Layer.provideMerge(Layer.mergeAll(
      options.cluster === undefined
        ? JobEntity.layerSingleRunner({ shardingConfig: options.shardingConfig })
        : ClusterRunner.layer({
          ...options.cluster.runner,
          shardingConfig: { ...options.cluster.runner?.shardingConfig, ...options.shardingConfig }
        }),
      ApiKeys.layer,
      DeadLetterPurge.layer(),
      StatsRepo.StatsRepo.Default,
      PrometheusMetrics.layer()
    )),
    Layer.provideMerge(redrive)
  )
}

/**
 * The whole server as a layer: `Layer.launch(Server.layer())` serves until interrupted (SIGTERM
 * through NodeRuntime.runMain closes it: in-flight requests end, the cluster shuts down).
 */
export const layer = (options: ServerOptions = {}) =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const env = yield* httpConfig
    const http = { ...env, ...options.http }
    // serve's request logger writes method, URL and status, never headers: no key reaches a log line.
    return HttpLayerRouter.serve(routes(http.maxBodyBytes, options.consoleDirectory)).pipe(
      Layer.provide(services(options)),
      Layer.provide(NodeHttpServer.layer(createServer, { port: http.port, host: http.host })),
      Layer.provide(NodeContext.layer)
    )
  }))
