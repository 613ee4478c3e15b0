'use server'

import { revalidatePath } from 'next/cache'
import { redirect } from 'next/navigation'

import { createClient } from '@/utils/supabase/server'

// The seed's "first approach": the public profile (display name + avatar URL) lives in the
// user's metadata. PUT /auth/v1/user merges `data` into user_metadata.
export async function updateProfile(formData: FormData) {
  const displayName = String(formData.get('display_name') ?? '').trim()
  const customAvatarUrl = String(formData.get('custom_avatar_url') ?? '').trim()

  const supabase = await createClient()
  const { error } = await supabase.auth.updateUser({
    data: { display_name: displayName, custom_avatar_url: customAvatarUrl },
  })
  if (error) {
    redirect(`/error?message=${encodeURIComponent(error.message)}`)
  }
  revalidatePath('/')
}
