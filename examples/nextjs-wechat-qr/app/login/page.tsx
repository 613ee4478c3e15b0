import { headers } from 'next/headers'
import Link from 'next/link'

import { phoneErrorMessage } from '@/utils/phone'
import { isInWeChat } from '@/utils/wechat'

import {
  login,
  loginByFollowing,
  loginWithMiniProgramCode,
  sendPhoneCode,
  verifyPhoneCode,
} from './actions'

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<{
    embedded?: string
    // The phone login's state, set by its server actions (./actions.ts).
    phone?: string
    sent?: string
    phone_error?: string
    wait?: string
  }>
}) {
  const { embedded, phone, sent, phone_error: phoneError, wait } = await searchParams
  // Inside WeChat's own browser there is no QR code to scan: 微信登录 goes to WeChat's
  // authorization page instead (saoma switches to the 公众号 login by itself), so the
  // embedded QR code is not offered there.
  const inWeChat = isInWeChat((await headers()).get('user-agent'))
  const showEmbedded = embedded !== undefined && !inWeChat

  return (
    <main className="center">
      <div className="card" style={{ textAlign: 'center' }}>
        <h1>登录</h1>
        {showEmbedded ? (
          <>
            <p className="muted">使用微信扫一扫登录</p>
            {/*
              Like wxLogin.js's iframe (300x400): /login/embedded starts the login and redirects
              the frame to WeChat's compact QR page. When the phone confirms, that page moves the
              top window (this page) to /private?code=... without anyone clicking in the frame.
              The sandbox lets the QR page run its script (allow-scripts, allow-same-origin) and
              navigate the top window (allow-top-navigation), and nothing else: no popups, no
              forms, no downloads.
            */}
            <iframe
              className="wechat-qr"
              data-testid="wechat-iframe"
              src="/login/embedded"
              title="微信登录二维码"
              width={300}
              height={400}
              sandbox="allow-scripts allow-same-origin allow-top-navigation"
            />
            <p>
              <Link href="/login" data-testid="leave-embedded">
                返回
              </Link>
            </p>
          </>
        ) : (
          <>
            <p className="muted">{inWeChat ? '使用微信授权登录' : '使用微信扫一扫登录'}</p>
            <form>
              <button className="primary" formAction={login}>
                微信登录
              </button>
            </form>
            {inWeChat ? null : (
              <>
                <p>
                  <Link href="/login?embedded=1" data-testid="embedded-qr" prefetch={false}>
                    在本页扫码登录
                  </Link>
                </p>
                <ScanLogins />
              </>
            )}
            <PhoneLogin
              phone={phone}
              sent={sent !== undefined}
              error={phoneError ? phoneErrorMessage(phoneError, wait) : undefined}
            />
            <p className="muted">
              <Link href="/login/email" data-testid="email-login" prefetch={false}>
                使用邮箱登录
              </Link>
              {' · '}
              <Link href="/forgot-password" prefetch={false}>
                忘记密码
              </Link>
            </p>
          </>
        )}
      </div>
    </main>
  )
}

/**
 * For sites without a verified WeChat website app: saoma's waiting page shows a code to scan
 * with WeChat, a mini-program code (wechat_mini_qr) or a 公众号 QR code (wechat_mp_qr), and
 * moves on by itself once the phone confirms. Not offered inside WeChat: the phone showing the
 * code cannot scan it.
 */
function ScanLogins() {
  return (
    <form className="scan-logins" data-testid="scan-logins">
      <button className="secondary" formAction={loginWithMiniProgramCode} data-testid="mini-qr-login">
        小程序码登录
      </button>
      <button className="secondary" formAction={loginByFollowing} data-testid="mp-qr-login">
        关注公众号登录
      </button>
    </form>
  )
}

/**
 * 手机号登录: the number, 获取验证码 (signInWithOtp), then the code and 登录 (verifyOtp). Plain
 * forms and server actions, like the WeChat button: no client JavaScript needed.
 */
function PhoneLogin({ phone, sent, error }: { phone?: string; sent: boolean; error?: string }) {
  return (
    <section className="phone-login" id="phone-login" data-testid="phone-login">
      <p className="divider">或</p>
      <p className="muted">使用手机号和短信验证码登录</p>
      {/* The first button is the one Enter presses: 登录 once a code is on its way. */}
      <form>
        <label htmlFor="phone">手机号</label>
        <input
          id="phone"
          name="phone"
          type="tel"
          inputMode="tel"
          autoComplete="tel"
          placeholder="+86 138 0000 0000"
          defaultValue={phone}
          required
        />
        {sent ? (
          <>
            <input type="hidden" name="sent" value="1" />
            <p className="muted" data-testid="code-sent">
              验证码已发送至 {phone}
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
        {error ? (
          <p className="error" role="alert" data-testid="phone-error">
            {error}
          </p>
        ) : null}
        {sent ? (
          <button className="primary" formAction={verifyPhoneCode} data-testid="verify-code">
            登录
          </button>
        ) : null}
        <button
          className={sent ? 'secondary' : 'primary'}
          formAction={sendPhoneCode}
          data-testid="send-code"
        >
          {sent ? '重新获取验证码' : '获取验证码'}
        </button>
      </form>
    </section>
  )
}
