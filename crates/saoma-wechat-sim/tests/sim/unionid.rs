//! One person across every kind of app bound to one open platform: one unionid, an openid
//! per app.

use serde_json::Value;

use crate::flows::{
    location_params, param, MINI, MINI_SECRET, MOBILE, MOBILE_SECRET, MP, MP_SECRET,
};
use crate::helpers::{callback, spawn, Sim, APP, SECRET};

/// (openid, unionid) of `persona` through each kind of app, by its real flow.
async fn identities(sim: &Sim, persona: &str) -> Vec<(String, String)> {
    let website = {
        let code = sim.login(APP, persona).await;
        sim.exchange(APP, SECRET, &code).await
    };
    let official_account = {
        let location = sim.mp_login("snsapi_userinfo", persona, callback()).await;
        let params = location_params(&location);
        sim.exchange(MP, MP_SECRET, param(&params, "code").unwrap())
            .await
    };
    let mini = {
        let code = sim.client_code("/sim/mini/login", MINI, persona).await;
        sim.jscode2session(MINI, MINI_SECRET, &code).await
    };
    let mobile = {
        let code = sim.client_code("/sim/app/authorize", MOBILE, persona).await;
        sim.exchange(MOBILE, MOBILE_SECRET, &code).await
    };
    [website, official_account, mini, mobile]
        .iter()
        .map(|answer: &Value| {
            (
                answer["openid"].as_str().unwrap().to_owned(),
                answer["unionid"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn one_unionid_across_website_official_account_mini_program_and_app() {
    let sim = spawn().await;
    let xiaoming = identities(&sim, "xiaoming").await;
    let unionid = &xiaoming[0].1;
    assert_eq!(unionid.len(), 28);
    assert!(xiaoming.iter().all(|(_, union)| union == unionid));
    let mut openids: Vec<&String> = xiaoming.iter().map(|(openid, _)| openid).collect();
    openids.sort();
    openids.dedup();
    assert_eq!(openids.len(), 4, "{xiaoming:?}");
    assert!(!openids.contains(&unionid));

    let xiaohong = identities(&sim, "xiaohong").await;
    assert_ne!(xiaohong[0].1, *unionid);
    assert!(xiaohong.iter().all(|(_, union)| *union == xiaohong[0].1));
}
