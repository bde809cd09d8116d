/**
 * A TCP proxy for partition tests: forwards both ways until `partition`, then holds every byte
 * (connections stay open, nothing is closed or refused — as when a network drops packets), and
 * on `heal` delivers what it held, in order, and forwards again.
 */
import { Effect, Redacted } from "effect"
import { createConnection, createServer, type Socket } from "node:net"

export interface TcpProxy {
  readonly port: number
  readonly partition: Effect.Effect<void>
  readonly heal: Effect.Effect<void>
}

export const tcpProxy = (target: { readonly host: string; readonly port: number }) =>
  Effect.acquireRelease(
    Effect.async<{ proxy: TcpProxy; close: () => void }>((resume) => {
      let partitioned = false
      const sockets = new Set<Socket>()
      const flushes = new Set<() => void>()
      const server = createServer((client) => {
        const upstream = createConnection(target.port, target.host)
        const toServer: Array<Buffer> = []
        const toClient: Array<Buffer> = []
        const flush = () => {
          for (const chunk of toServer.splice(0)) upstream.write(chunk)
          for (const chunk of toClient.splice(0)) client.write(chunk)
        }
        sockets.add(client).add(upstream)
        flushes.add(flush)
        client.on("data", (chunk: Buffer) => (partitioned ? toServer.push(chunk) : upstream.write(chunk)))
        upstream.on("data", (chunk: Buffer) => (partitioned ? toClient.push(chunk) : client.write(chunk)))
        const end = () => {
          flushes.delete(flush)
          client.destroy()
          upstream.destroy()
        }
        for (const socket of [client, upstream]) {
          socket.on("error", end)
          socket.on("close", end)
        }
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : -1
        resume(Effect.succeed({
          proxy: {
            port,
            partition: Effect.sync(() => {
              partitioned = true
            }),
            heal: Effect.sync(() => {
              partitioned = false
              for (const flush of flushes) flush()
            })
          },
          close: () => {
            for (const socket of sockets) socket.destroy()
            server.close()
          }
        }))
      })
    }),
    ({ close }) => Effect.sync(close)
  ).pipe(Effect.map(({ proxy }) => proxy))

/** `url` with its host and port replaced by the proxy's: a connection string through it. */
export const via = (url: Redacted.Redacted, port: number) => {
  const parsed = new URL(Redacted.value(url))
  parsed.hostname = "127.0.0.1"
  parsed.port = String(port)
  return Redacted.make(parsed.toString())
}
