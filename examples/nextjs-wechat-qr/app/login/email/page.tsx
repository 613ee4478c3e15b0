import Link from 'next/link'

import { emailErrorMessage } from '@/utils/email'

import { sendEmailLink, signInWithPassword, verifyEmailCode } from './actions'

// 邮箱登录: a sign-in link or code by mail (signInWithOtp), or the address and a password.
// Plain forms and server actions, like the phone login: no client JavaScript needed.
export default async function EmailLoginPage({
  searchParams,
}: {
  searchParams: Promise<{
    email?: string
    sent?: string
    email_error?: string
    password_error?: string
    wait?: string
  }>
}) {
  const { email, sent, email_error: emailError, password_error: passwordError, wait } =
    await searchParams
  const codeSent = sent !== undefined

  return (
    <main className="center">
      <div className="card">
        <h1>邮箱登录</h1>
        <section className="phone-login" data-testid="email-link-login">
          <p className="muted">我们会向你的邮箱发送登录链接和验证码，点击链接或输入验证码即可登录，新邮箱会自动注册。</p>
          {/* The first button is the one Enter presses: 登录 once a mail is on its way. */}
          <form>
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
            {codeSent ? (
              <>
                <input type="hidden" name="sent" value="1" />
                <p className="muted" data-testid="email-sent">
                  登录邮件已发送至 {email}，请点击邮件中的链接，或输入邮件中的验证码。
                </p>
                <label htmlFor="token">验证码</label>
                <input
                  id="token"
                  name="token"
                  type="text"
                  inputMode="numeric"
                  autoComplete="one-time-code"
                  placeholder="6 位数字"
                  maxLength={10}
                  autoFocus
                />
              </>
            ) : null}
            {emailError ? (
              <p className="error" role="alert" data-testid="email-error">
                {emailErrorMessage(emailError, wait)}
              </p>
            ) : null}
            {codeSent ? (
              <button className="primary" formAction={verifyEmailCode} data-testid="verify-email-code">
                登录
              </button>
            ) : null}
            <button
              className={codeSent ? 'secondary' : 'primary'}
              formAction={sendEmailLink}
              data-testid="send-email-link"
            >
              {codeSent ? '重新发送登录邮件' : '发送登录邮件'}
            </button>
          </form>
        </section>

        <section className="phone-login" data-testid="email-password-login">
          <p className="divider">或</p>
          <p className="muted">使用邮箱和密码登录</p>
          <form action={signInWithPassword}>
            <label htmlFor="password-email">邮箱</label>
            <input
              id="password-email"
              name="email"
              type="email"
              autoComplete="username"
              defaultValue={email}
              required
            />
            <label htmlFor="password">密码</label>
            <input
              id="password"
              name="password"
              type="password"
              autoComplete="current-password"
              required
            />
            {passwordError ? (
              <p className="error" role="alert" data-testid="password-error">
                {emailErrorMessage(passwordError)}
              </p>
            ) : null}
            <button className="primary" type="submit" data-testid="password-sign-in">
              登录
            </button>
          </form>
          <p className="muted">
            <Link href="/forgot-password" data-testid="forgot-password">
              忘记密码？
            </Link>
          </p>
        </section>

        <p className="muted" style={{ textAlign: 'center' }}>
          <Link href="/login">返回微信登录</Link>
        </p>
      </div>
    </main>
  )
}
