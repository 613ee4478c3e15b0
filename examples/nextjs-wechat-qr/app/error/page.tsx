import Link from 'next/link'

const KNOWN: Record<string, string> = {
  access_denied: '你在手机上取消了微信登录。',
  otp_expired: '邮件中的链接无效或已过期，请重新获取。',
}

export default async function ErrorPage({
  searchParams,
}: {
  searchParams: Promise<{ message?: string; code?: string }>
}) {
  // searchParams is a promise since Next.js 15.
  const { message, code } = await searchParams
  const hint = code ? KNOWN[code] : undefined

  return (
    <main className="center">
      <div className="card">
        <h1>对不起，出错了</h1>
        {hint ? <p>{hint}</p> : null}
        <p className="error" data-testid="error-message">
          {message ?? 'Something went wrong'}
        </p>
        {code ? <p className="muted" data-testid="error-code">{code}</p> : null}
        <Link href="/login">返回登录</Link>
      </div>
    </main>
  )
}
