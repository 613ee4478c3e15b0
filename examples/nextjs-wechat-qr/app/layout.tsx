import type { Metadata } from 'next'

import './globals.css'

export const metadata: Metadata = {
  title: '微信扫码登录 · Next.js + saoma',
  description: 'WeChat QR login with @supabase/ssr against saoma',
}

export default function RootLayout({ children }: Readonly<{ children: React.ReactNode }>) {
  return (
    <html lang="zh-CN">
      <body>{children}</body>
    </html>
  )
}
