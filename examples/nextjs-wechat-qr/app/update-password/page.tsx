import { redirect } from 'next/navigation'

import { emailErrorMessage } from '@/utils/email'
import { createClient } from '@/utils/supabase/server'

import { updatePassword } from './actions'

// 设置新密码: reached from the reset mail's link (through /auth/confirm, which signed in), or
// by a signed-in user who wants to change the password.
export default async function UpdatePasswordPage({
  searchParams,
}: {
  searchParams: Promise<{ error?: string }>
}) {
  const { error } = await searchParams
  const supabase = await createClient()
  const {
    data: { user },
  } = await supabase.auth.getUser()
  if (!user) redirect('/login/email')

  return (
    <main className="center">
      <div className="card">
        <h1>设置新密码</h1>
        <p className="muted" data-testid="update-password-email">
          账号：{user.email}
        </p>
        <form action={updatePassword} className="phone-login">
          <label htmlFor="password">新密码</label>
          <input id="password" name="password" type="password" autoComplete="new-password" required />
          <label htmlFor="confirm">再次输入新密码</label>
          <input id="confirm" name="confirm" type="password" autoComplete="new-password" required />
          {error ? (
            <p className="error" role="alert" data-testid="update-password-error">
              {emailErrorMessage(error)}
            </p>
          ) : null}
          <button className="primary" type="submit" data-testid="save-password">
            保存新密码
          </button>
        </form>
      </div>
    </main>
  )
}
