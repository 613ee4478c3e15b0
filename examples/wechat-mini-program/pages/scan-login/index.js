// The page a scanned 小程序码 opens (saoma's wechat_mini_qr). It tells saoma the code was
// scanned, asks the person to confirm, and sends a fresh wx.login() code: saoma learns who it is
// from WeChat (jscode2session), never from this page. Requests are made as MemFire's
// mini-program SDK makes them: wx.request with the project's anon key as `apikey`.

const SAOMA_URL = 'https://auth.example.com/auth/v1' // saoma's public URL, with /auth/v1
const ANON_KEY = 'your-anon-key'

function call(path, data) {
  return new Promise((resolve, reject) => {
    wx.request({
      url: `${SAOMA_URL}${path}`,
      method: 'POST',
      data,
      header: { 'content-type': 'application/json', apikey: ANON_KEY },
      success: (res) =>
        res.statusCode >= 200 && res.statusCode < 300
          ? resolve(res.data)
          : reject(new Error((res.data && (res.data.msg || res.data.message)) || `HTTP ${res.statusCode}`)),
      fail: (err) => reject(new Error(err.errMsg || 'network error')),
    })
  })
}

function wxLogin() {
  return new Promise((resolve, reject) => {
    wx.login({ success: (res) => resolve(res.code), fail: (err) => reject(new Error(err.errMsg)) })
  })
}

Page({
  data: { state: 'loading', site: '', message: '', busy: false },

  async onLoad(query) {
    // WeChat hands the scene URL-encoded (see WeChat's getUnlimitedQRCode docs).
    this.scene = decodeURIComponent(query.scene || '')
    if (!this.scene) {
      this.setData({ state: 'error', message: '这个页面需要扫码打开' })
      return
    }
    try {
      const scanned = await call('/wechat_mini/qr/scan', { scene: this.scene })
      this.setData({ state: 'ask', site: scanned.site })
    } catch (err) {
      this.setData({ state: 'error', message: err.message })
    }
  },

  async confirm() {
    this.setData({ busy: true })
    try {
      // A fresh code per confirmation: codes are single use and live five minutes.
      const code = await wxLogin()
      await call('/wechat_mini/qr/confirm', { scene: this.scene, code })
      this.setData({ state: 'done' })
    } catch (err) {
      this.setData({ state: 'error', message: err.message })
    } finally {
      this.setData({ busy: false })
    }
  },

  async cancel() {
    try {
      await call('/wechat_mini/qr/cancel', { scene: this.scene })
    } catch (_) {
      // Cancelling an expired code changes nothing; leave all the same.
    }
    this.setData({ state: 'cancelled' })
  },
})
