import { createBrowserClient } from '@supabase/ssr'

// A Supabase client for client components (code running in the browser). It shares the
// session with the server through the same `sb-<host>-auth-token` cookies.
//
// Browser bundles only know NEXT_PUBLIC_* values that were set when `next build` ran: Next.js
// inlines them. This example's pages are server-rendered and do not need it; it is here for
// your own client components.
export function createClient() {
  return createBrowserClient(
    process.env.NEXT_PUBLIC_SUPABASE_URL!,
    process.env.NEXT_PUBLIC_SUPABASE_ANON_KEY!,
  )
}
