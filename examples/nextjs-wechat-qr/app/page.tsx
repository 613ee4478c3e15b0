import Link from 'next/link'
import { redirect } from 'next/navigation'

import { displayPhone } from '@/utils/phone'
import { createClient } from '@/utils/supabase/server'

import { updateProfile } from './actions'

export default async function Home({
  searchParams,
}: {
  searchParams: Promise<{ password?: string }>
}) {
  const { password } = await searchParams
  const supabase = await createClient()

  // getUser() asks saoma who the cookie's access token belongs to; never trust getSession()
  // alone on the server.
  const {
    data: { user },
    error,
  } = await supabase.auth.getUser()
  if (error || !user) {
    redirect('/login')
  }

  const meta = user.user_metadata ?? {}
  const nickname: string = meta.full_name ?? meta.name ?? ''
  const avatarUrl: string | undefined = meta.avatar_url ?? meta.picture
  const displayName: string = meta.display_name ?? ''
  const customAvatarUrl: string = meta.custom_avatar_url ?? ''

  return (
    <main className="center">
      <div className="card">
        {password === 'updated' ? (
          <p className="notice" role="status" data-testid="password-updated">
            密码已更新，下次可使用新密码登录。
          </p>
        ) : null}
        <div className="profile">
          {avatarUrl ? (
            // A plain <img>: the avatar is served by WeChat (here saoma's simulator), and
            // next/image would need that host in next.config's images.remotePatterns.
            // eslint-disable-next-line @next/next/no-img-element
            <img className="avatar" data-testid="avatar" src={avatarUrl} alt="微信头像" />
          ) : null}
          <div>
            {/*
              Signed in by SMS or email without WeChat: no nickname, the number or address. The
              scan logins (mini-program code, 公众号) get no nickname from WeChat either.
            */}
            {nickname ? (
              <h1>
                Hello，你的微信昵称为：<span data-testid="nickname">{nickname}</span>
              </h1>
            ) : user.phone ? (
              <h1>Hello，你已使用手机号登录</h1>
            ) : user.email ? (
              <h1>Hello，你已使用邮箱登录</h1>
            ) : (
              <h1 data-testid="wechat-signed-in">Hello，你已使用微信登录</h1>
            )}
            {user.email ? (
              <p className="muted">
                邮箱：<span data-testid="email">{user.email}</span>
              </p>
            ) : null}
            {user.phone ? (
              <p className="muted">
                手机号：<span data-testid="phone">{displayPhone(user.phone)}</span>
              </p>
            ) : null}
            <p className="muted">
              你的用户id为：<span data-testid="user-id">{user.id}</span>
            </p>
            <p className="muted">
              登录方式：<span data-testid="provider">{user.app_metadata?.provider ?? 'unknown'}</span>
            </p>
          </div>
        </div>

        <h2>公开资料</h2>
        <div className="profile">
          {customAvatarUrl ? (
            // eslint-disable-next-line @next/next/no-img-element
            <img
              className="avatar"
              data-testid="custom-avatar"
              src={customAvatarUrl}
              alt="自定义头像"
            />
          ) : null}
          <p>
            显示名称：<span data-testid="display-name">{displayName || '（未设置）'}</span>
          </p>
        </div>
        <form action={updateProfile}>
          <label htmlFor="display_name">显示名称</label>
          <input
            id="display_name"
            name="display_name"
            type="text"
            defaultValue={displayName || nickname}
          />
          <label htmlFor="custom_avatar_url">头像 URL</label>
          <input
            id="custom_avatar_url"
            name="custom_avatar_url"
            type="url"
            defaultValue={customAvatarUrl}
            placeholder={avatarUrl}
          />
          <button className="primary" type="submit" data-testid="save-profile">
            保存
          </button>
        </form>

        {user.email ? (
          <p className="muted">
            <Link href="/update-password">修改密码</Link>
          </p>
        ) : null}

        <form action="/signout" method="post">
          <button className="secondary" type="submit" data-testid="sign-out">
            退出登录
          </button>
        </form>
      </div>
    </main>
  )
}
