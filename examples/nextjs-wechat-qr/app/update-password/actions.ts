'use server'

import { redirect } from 'next/navigation'

import { emailErrorCode, withQuery } from '@/utils/email'
import { createClient } from '@/utils/supabase/server'

const PAGE = '/update-password'

// 保存新密码: PUT /auth/v1/user {password}, with the session the reset link started.
export async function updatePassword(formData: FormData) {
  const password = String(formData.get('password') ?? '')
  const confirm = String(formData.get('confirm') ?? '')
  if (!password) redirect(withQuery(PAGE, { error: 'missing_password' }))
  if (password !== confirm) redirect(withQuery(PAGE, { error: 'password_mismatch' }))

  const supabase = await createClient()
  const { error } = await supabase.auth.updateUser({ password })
  if (error) redirect(withQuery(PAGE, { error: emailErrorCode(error) }))
  redirect('/?password=updated')
}
