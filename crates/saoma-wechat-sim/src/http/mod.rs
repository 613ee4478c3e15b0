//! The simulator's routes, relative to its mount point. Every URL it emits is built from
//! `public_url`, so it works mounted under a prefix as well as on its own port.

mod apps;
mod control;
mod html;
mod index;
mod issue;
mod login;
mod mini;
mod mini_open;
mod mp;
mod mp_page;
mod mp_qr;
mod mp_scan;
mod phone;
mod pictures;
mod poll;
mod sms;
mod sns;
mod tokens;
mod wx;
mod wxacode;

use std::sync::Arc;

use axum::routing::{any, get, post, put};
use axum::Router;

use crate::simulator::Shared;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        // open.weixin.qq.com
        .route("/connect/qrconnect", get(login::qrconnect))
        .route("/connect/l/qrconnect", get(poll::poll))
        .route("/connect/oauth2/authorize", get(mp::authorize))
        .route("/connect/oauth2/authorize/confirm", post(mp::confirm))
        // api.weixin.qq.com; some SDKs POST the same query, which WeChat accepts.
        .route(
            "/sns/oauth2/access_token",
            get(sns::access_token).post(sns::access_token),
        )
        .route(
            "/sns/oauth2/refresh_token",
            get(sns::refresh_token).post(sns::refresh_token),
        )
        .route("/sns/auth", get(sns::auth).post(sns::auth))
        .route("/sns/userinfo", get(sns::userinfo).post(sns::userinfo))
        .route(
            "/sns/jscode2session",
            get(mini::jscode2session).post(mini::jscode2session),
        )
        .route("/cgi-bin/token", get(mini::token))
        .route("/cgi-bin/stable_token", post(tokens::stable_token))
        .route("/wxa/getwxacodeunlimit", post(wxacode::getwxacodeunlimit))
        .route("/cgi-bin/qrcode/create", post(mp_qr::create))
        .route("/cgi-bin/showqrcode", get(mp_qr::show))
        .route("/cgi-bin/user/info", get(mp_qr::user_info))
        .route("/wxa/business/getuserphonenumber", post(mini::phone_number))
        // dysmsapi.aliyuncs.com and sms.tencentcloudapi.com, whose `/` these stand for.
        .route("/aliyun-sms", any(sms::aliyun))
        .route("/aliyun-sms/", any(sms::aliyun))
        .route("/tencent-sms", post(sms::tencent))
        .route("/tencent-sms/", post(sms::tencent))
        // The simulator's own: the phone, WeChat's clients, pictures, control.
        .route("/sim", get(index::index))
        .route(
            "/sim/faults",
            get(control::get_faults).put(control::put_faults),
        )
        .route("/sim/echo-callback", get(control::echo_callback))
        .route("/sim/qr/{file}", get(pictures::qr))
        .route("/sim/avatar/{persona}/{size}", get(pictures::avatar))
        .route("/sim/phone/{uuid}", get(phone::show))
        .route("/sim/phone/{uuid}/confirm", post(phone::confirm))
        .route("/sim/phone/{uuid}/cancel", post(phone::cancel))
        .route("/sim/sms", get(sms::overview))
        .route("/sim/sms/inbox/{phone}", get(sms::inbox))
        .route("/sim/sms/phone/{phone}", get(sms::phone))
        .route("/sim/sms/reset", post(sms::reset))
        .route("/sim/mini/login", post(issue::mini_login))
        .route("/sim/mini/phone", post(issue::mini_phone))
        .route("/sim/app/authorize", post(issue::app_authorize))
        .route("/sim/mini/open", get(mini_open::open))
        .route("/sim/mini/open/confirm", post(mini_open::confirm))
        .route("/sim/mini/open/cancel", post(mini_open::cancel))
        .route("/sim/mp/scan/{ticket}", get(mp_scan::show))
        .route("/sim/mp/scan/{ticket}/confirm", post(mp_scan::confirm))
        .route("/sim/mp/pushes", get(apps::pushes))
        .route("/sim/tokens", get(tokens::stats))
        .route("/sim/tokens/{appid}/expire", post(tokens::expire))
        .route("/sim/apps/{appid}/server", put(apps::put_server))
        .route("/sim/apps/{appid}/push", put(apps::put_push))
        .route(
            "/sim/apps/{appid}/followers/{persona}",
            put(apps::put_follower),
        )
        .with_state(shared)
}
