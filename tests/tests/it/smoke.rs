use kopek_tests::TestApp;

#[tokio::test]
async fn a_registered_customer_signs_in_and_sees_itself() {
    let app = TestApp::start().await;
    let customer = app.register("Ромашка").await;
    let me = app.get("/v1/me", Some(&customer.token)).await;
    me.assert_status(200);
    assert_eq!(me.body["organisation"]["id"], customer.org_id.as_str());
    let token = app.sign_in(&customer.email, &customer.password).await;
    app.get("/v1/me", Some(&token)).await.assert_status(200);
}
