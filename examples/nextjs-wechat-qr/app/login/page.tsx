import { headers } from 'next/headers'
import Link from 'next/link'

import { isInWeChat } from '@/utils/wechat'

import { login } from './actions'

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<{ embedded?: string }>
}) {
  const { embedded } = await searchParams
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
              <p>
                <Link href="/login?embedded=1" data-testid="embedded-qr" prefetch={false}>
                  在本页扫码登录
                </Link>
              </p>
            )}
          </>
        )}
      </div>
    </main>
  )
}
