//! `GET /sim`: every app, its kind and how to try it; every persona with its phone.

use crate::helpers::spawn;

#[tokio::test]
async fn the_index_lists_every_app_and_persona() {
    let sim = spawn().await;
    let response = sim.get("/sim").await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    for text in [
        "id=\"app-wx_sim_website\"",
        "id=\"app-wx_sim_mp\"",
        "id=\"app-wx_sim_mini\"",
        "id=\"app-wx_sim_mini_unbound\"",
        "id=\"app-wx_sim_app\"",
        "网站应用",
        "公众号",
        "小程序",
        "移动应用",
        "sim-mp-secret",
        "saoma 演示公众号",
        "/sim/mini/login",
        "/sim/mini/phone",
        "/sim/app/authorize",
        "+8613800000001",
        "+8613800000003",
    ] {
        assert!(page.contains(text), "{text} in {page}");
    }
}
