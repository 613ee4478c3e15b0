// Configuration for server code (server components, server actions, route handlers, proxy).
//
// Next.js replaces `process.env.NEXT_PUBLIC_...` with its build-time value in every bundle,
// server bundles included. Looking the variables up by a computed name keeps the lookup at
// request time, so the server follows the environment `next start` runs in: one production
// build works against any saoma URL (the end-to-end test picks ports at run time). Browser
// code cannot do this; see client.ts.

function env(name: string): string | undefined {
  const value = process.env[name]
  return value ? value : undefined
}

function required(name: string): string {
  const value = env(name)
  if (!value) {
    throw new Error(`${name} is not set: copy .env.local.example to .env.local and fill it in`)
  }
  return value
}

/** The saoma URL, e.g. http://localhost:9999 (the cookie name comes from its host name). */
export function supabaseUrl(): string {
  return required('NEXT_PUBLIC_SUPABASE_URL')
}

/** The anon key printed by `saoma dev` (or `saoma keys`). */
export function supabaseAnonKey(): string {
  return required('NEXT_PUBLIC_SUPABASE_ANON_KEY')
}

/** This app's public origin, e.g. http://localhost:3000, when configured. */
export function siteUrl(): string | undefined {
  return env('NEXT_PUBLIC_SITE_URL')?.replace(/\/+$/, '')
}
