/**
 * The roles of migrations/0014_roles.sql hold as a whole: who owns what, which tables force
 * row-level security, and that the library (and this suite) runs as a non-superuser.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { TestDatabase } from "../src/testing/index.js"

layer(TestDatabase.layer, { excludeTestServices: true })("roles", (it) => {
  it.effect("the library runs as redrive_runtime: not a superuser, no BYPASSRLS, owns nothing", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const [me] = yield* sql<{ user: string; superuser: boolean; bypass: boolean; owns: string }>`
        select current_user as user, r.rolsuper as superuser, r.rolbypassrls as bypass,
               (select count(*) from pg_class c where c.relowner = r.oid and c.relnamespace = 'redrive'::regnamespace) as owns
        from pg_roles r where r.rolname = current_user`
      assert.deepStrictEqual(me, { user: "redrive_runtime", superuser: false, bypass: false, owns: "0" })
    }))

  it.effect("the schema's owner owns every relation and function in it, and is no login", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const strays = yield* sql<{ name: string; owner: string }>`
        select c.relname as name, pg_get_userbyid(c.relowner) as owner from pg_class c
        where c.relnamespace = 'redrive'::regnamespace and pg_get_userbyid(c.relowner) <> 'redrive_owner'
        union all
        select p.proname, pg_get_userbyid(p.proowner) from pg_proc p
        where p.pronamespace = 'redrive'::regnamespace and pg_get_userbyid(p.proowner) <> 'redrive_owner'
        union all
        select 'schema redrive', pg_get_userbyid(n.nspowner) from pg_namespace n
        where n.nspname = 'redrive' and pg_get_userbyid(n.nspowner) <> 'redrive_owner'`
      assert.deepStrictEqual(strays, [])
      const roles = yield* sql<{ name: string; login: boolean; superuser: boolean }>`
        select rolname as name, rolcanlogin as login, rolsuper as superuser from pg_roles
        where rolname like 'redrive\\_%' order by rolname`
      assert.deepStrictEqual(roles, [
        { name: "redrive_owner", login: false, superuser: false },
        { name: "redrive_runtime", login: true, superuser: false },
        { name: "redrive_tenant", login: true, superuser: false }
      ])
    }))

  it.effect("every table holding a tenant_id forces row-level security, with a policy for each role that reads it", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tables = yield* sql<{ name: string; enabled: boolean; forced: boolean; runtime: boolean; tenant: boolean }>`
        select c.relname as name, c.relrowsecurity as enabled, c.relforcerowsecurity as forced,
               exists (select 1 from pg_policy p where p.polrelid = c.oid and 'redrive_runtime'::regrole = any(p.polroles)) as runtime,
               exists (select 1 from pg_policy p where p.polrelid = c.oid and 'redrive_tenant'::regrole = any(p.polroles)) as tenant
        from pg_class c
        where c.relnamespace = 'redrive'::regnamespace and c.relkind = 'r'
          and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
        order by 1`
      assert.isAbove(tables.length, 8)
      for (const t of tables) {
        assert.isTrue(t.enabled && t.forced && t.runtime, `${t.name}: ${JSON.stringify(t)}`)
        // A table the tenant role may read at all has its tenant policy.
        const [readable] = yield* sql<{ ok: boolean }>`
          select has_table_privilege('redrive_tenant', ${`redrive.${t.name}`}, 'select')
              or has_any_column_privilege('redrive_tenant', ${`redrive.${t.name}`}, 'select') as ok`
        if (readable!.ok) assert.isTrue(t.tenant, `${t.name} is readable by the tenant role without a tenant policy`)
      }
    }))

  it.effect("the tenant role holds no privilege beyond the list in 0014_roles.sql", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const grants = yield* sql<{ grant: string }>`
        select c.relname || ':' || p as grant
        from pg_class c, unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
        where c.relnamespace = 'redrive'::regnamespace and c.relkind in ('r', 'v')
          and has_table_privilege('redrive_tenant', c.oid, p)
        order by 1`
      assert.deepStrictEqual(grants.map((g) => g.grant), [
        "alert_attempt:SELECT", "alert_backlog:SELECT", "alert_channel_event:SELECT", "alert_delivery:SELECT", "control:SELECT", "control_event:SELECT",
        "dlq_group_mute:SELECT", "dlq_group_tenant:SELECT", "dlq_inspector:SELECT", "failure_stat:SELECT",
        "failure_stats:SELECT", "job:SELECT", "job_dlq:SELECT", "queue_health:SELECT", "replay_request:SELECT",
        "throughput_stat:SELECT"
      ])
      // Column grants, where the table-level privilege is missing.
      const columns = yield* sql<{ grant: string }>`
        select c.relname || ':' || p || ':' || a.attname as grant
        from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped,
             unnest(array['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) p
        where c.relnamespace = 'redrive'::regnamespace and c.relkind = 'r'
          and has_column_privilege('redrive_tenant', c.oid, a.attnum, p)
          and not has_table_privilege('redrive_tenant', c.oid, p)
        order by 1`
      const list = columns.map((c) => c.grant)
      assert.notInclude(list, "job:INSERT:id")
      assert.notInclude(list, "job:INSERT:replay_of")
      assert.notInclude(list, "job:UPDATE:tenant_id")
      assert.notInclude(list, "alert_channel:SELECT:secret")
      assert.include(list, "alert_channel:SELECT:has_secret")
      assert.include(list, "job:INSERT:payload")
      assert.include(list, "job:UPDATE:state")
      assert.deepStrictEqual([...new Set(list.map((g) => g.split(":").slice(0, 2).join(":")))].sort(), [
        "alert_channel:SELECT", "job:INSERT", "job:UPDATE"
      ])
      const sequences = yield* sql<{ n: string }>`
        select count(*) as n from pg_class c where c.relnamespace = 'redrive'::regnamespace
          and case when c.relkind = 'S' then has_sequence_privilege('redrive_tenant', c.oid, 'usage') else false end`
      assert.strictEqual(sequences[0]!.n, "0")
      const functions = yield* sql<{ name: string }>`
        select p.proname as name from pg_proc p
        where p.pronamespace = 'redrive'::regnamespace and p.prosecdef
          and has_function_privilege('redrive_tenant', p.oid, 'execute') order by 1`
      assert.deepStrictEqual(functions.map((f) => f.name), ["current_tenant"])
    }))
})
