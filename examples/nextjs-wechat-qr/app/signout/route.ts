import { NextResponse, type NextRequest } from 'next/server'

import { createClient } from '@/utils/supabase/server'

export async function POST(request: NextRequest) {
  const supabase = await createClient()

  // Ends the session at saoma (POST /auth/v1/logout) and clears the auth cookies. Without a
  // session it only clears the cookies.
  await supabase.auth.signOut()

  // 303: the browser follows this POST's redirect with a GET.
  return NextResponse.redirect(new URL('/login', request.url), { status: 303 })
}
