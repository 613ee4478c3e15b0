import Link from 'next/link'

import { emailErrorMessage } from '@/utils/email'

import { sendPasswordReset } from './actions'

// 忘记密码: the address, then a mail whose link signs in and leads to /update-password.
export default async function ForgotPasswordPage({
  searchParams,
}: {
  searchParams: Promise<{ email?: string; sent?: string; error?: string; wait?: string }>
}) {
  const { email, sent, error, wait } = await searchParams

  return (
    <main className="center">
      <div className="card">
        <h1>忘记密码</h1>
        <p className="muted">输入注册时使用的邮箱，我们会发送一封重置密码的邮件。</p>
        <form action={sendPasswordReset} className="phone-login">
          <label htmlFor="email">邮箱</label>
          <input
            id="email"
            name="email"
            type="email"
            autoComplete="email"
            placeholder="name@example.com"
            defaultValue={email}
            required
          />
          {sent !== undefined ? (
            <p className="muted" data-testid="reset-sent">
              如果 {email} 已注册，重置密码的邮件已发送，请查收并点击邮件中的链接。
            </p>
          ) : null}
          {error ? (
            <p className="error" role="alert" data-testid="reset-error">
              {emailErrorMessage(error, wait)}
            </p>
          ) : null}
          <button className="primary" type="submit" data-testid="send-reset">
            发送重置邮件
          </button>
        </form>
        <p className="muted">
          <Link href="/login/email">返回邮箱登录</Link>
        </p>
      </div>
    </main>
  )
}
