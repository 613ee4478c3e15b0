// Next.js 16 calls this file `proxy.ts` (it was `middleware.ts` up to Next.js 15). It runs
// before every matched request and keeps the Supabase session fresh.
import { type NextRequest } from 'next/server'

import { updateSession } from '@/utils/supabase/middleware'

export async function proxy(request: NextRequest) {
  return await updateSession(request)
}

export const config = {
  matcher: [
    /*
     * Every path except:
     * - _next/static (static files)
     * - _next/image (image optimization files)
     * - favicon.ico and image files
     */
    '/((?!_next/static|_next/image|favicon.ico|.*\\.(?:svg|png|jpg|jpeg|gif|webp)$).*)',
  ],
}
