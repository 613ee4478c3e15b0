import { login } from './actions'

export default function LoginPage() {
  return (
    <main className="center">
      <div className="card" style={{ textAlign: 'center' }}>
        <h1>登录</h1>
        <p className="muted">使用微信扫一扫登录</p>
        <form>
          <button className="primary" formAction={login}>
            微信登录
          </button>
        </form>
      </div>
    </main>
  )
}
