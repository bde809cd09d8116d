/**
 * What the CLI's commands ask of Redrive, whichever way it is reached: the database directly
 * (DirectBackend: the library's services) or a running server (RemoteBackend: the typed RPC
 * client). Commands see plain data and Redrive's tagged errors, so `--url` changes where a
 * command runs, not what it prints or how it exits.
 */
import type { Control, ControlEvent, DlqFilter, Ids, Job, JobDlq, ReplayRequest } from "@redrive/database"
import type { Controls, ErrorGroups, JobCommands } from "@redrive/jobs"
import { Context, type Effect } from "effect"
import type { ApiKeyInfo, CreatedKey, CreateKeyInput } from "../auth/ApiKeys.js"

export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly nextCursor: string | null
}

export interface ReplayOneInput {
  readonly id: string
  readonly by: string
  readonly payload?: unknown
  readonly requestId?: string | undefined
}

export interface BulkInput {
  readonly filter: DlqFilter.DlqFilterInput
  /** The tenant whose dead letters are replayed, or `*` for every tenant. */
  readonly scopeTenant: string
  readonly dryRun: boolean
  readonly requestedBy: string
  readonly id?: string | undefined
}

export interface PurgeInput {
  readonly filter: DlqFilter.DlqFilterInput
  /** Only dead letters dead-lettered more than this long ago (milliseconds). */
  readonly olderThanMs?: number | undefined
  readonly dryRun: boolean
  readonly by: string
  readonly reason?: string | undefined
}

export interface PurgeResult {
  /** Dead letters that match (dry run) or were deleted. */
  readonly count: number
  readonly dryRun: boolean
  /** The audit entry of a purge that ran; null for a dry run. */
  readonly auditId: number | null
}

/** Every failure a command can meet is a tagged error; ExitCode.of maps its tag to the exit code. */
export type BackendError = { readonly _tag: string }

type Op<A> = Effect.Effect<A, BackendError>

export class Backend extends Context.Tag("@redrive/server/cli/Backend")<Backend, {
  readonly dlqList: (filter: DlqFilter.DlqFilterInput, page: { readonly limit: number; readonly cursor?: string | undefined }) => Op<Page<JobDlq.JobDlq>>
  readonly dlqGet: (id: string) => Op<JobDlq.JobDlq>
  readonly groups: (input: ErrorGroups.ListInput) => Op<ErrorGroups.ErrorGroupPage>
  readonly replayOne: (input: ReplayOneInput) => Op<{ readonly jobId: number; readonly created: boolean }>
  readonly bulkCreate: (input: BulkInput) => Op<ReplayRequest.ReplayRequest>
  /**
   * Runs the request to its end where this process can (the direct mode runs it itself; a
   * server's runner runs it otherwise, and this only waits).
   */
  readonly bulkRun: (id: Ids.ReplayRequestId) => Op<void>
  readonly bulkStatus: (id: string) => Op<ReplayRequest.ReplayRequest>
  readonly bulkCancel: (id: string) => Op<ReplayRequest.ReplayRequest>
  readonly jobGet: (id: string) => Op<typeof Job.Job.json.Type>
  readonly jobCancel: (input: JobCommands.CancelInput & { readonly requestId?: string | undefined }) => Op<JobCommands.CancelResult>
  readonly jobRetry: (input: JobCommands.RetryNowInput & { readonly requestId?: string | undefined }) => Op<JobCommands.RetryNowResult>
  readonly pause: (input: Controls.PauseInput) => Op<Controls.ControlChange>
  readonly resume: (input: Controls.ChangeInput) => Op<Controls.ControlChange>
  readonly drain: (input: Controls.ChangeInput) => Op<Controls.ControlChange>
  readonly controls: Op<ReadonlyArray<Control.Control>>
  readonly events: (input: Controls.EventsInput) => Op<ReadonlyArray<ControlEvent.ControlEvent>>
  readonly purge: (input: PurgeInput) => Op<PurgeResult>
  readonly keysCreate: (input: CreateKeyInput) => Op<CreatedKey>
  readonly keysList: Op<ReadonlyArray<ApiKeyInfo>>
  readonly keysRevoke: (id: string) => Op<ApiKeyInfo>
  readonly keysRotate: (id: string) => Op<CreatedKey>
}>() {}
