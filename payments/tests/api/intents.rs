use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::support::TestApp;

#[sqlx::test(migrations = "../migrations")]
async fn an_intent_locks_the_quoted_amount(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320018100").await;
    assert_eq!(intent["status"], "awaiting_payment");
    assert_eq!(intent["case_reference"], "0320018100");
    assert_eq!(intent["office_code"], "0320");
    assert_eq!(
        intent["total"],
        json!({"amount": "600000", "currency": "KHR"})
    );
    assert_eq!(
        intent["amount_paid"],
        json!({"amount": "0", "currency": "KHR"})
    );
    assert!(intent["pay_url"].as_str().unwrap().contains("/pay/pt_"));
    let id = intent["id"].as_str().unwrap();
    let fetched = app
        .get(
            &format!("/v1/payment-intents/{id}"),
            Some(app.key("workflow")),
        )
        .await;
    assert_eq!(fetched.body["total"], intent["total"]);
    let listed = app
        .get(
            "/v1/payment-intents?case_reference=0320018100&status=awaiting_payment",
            Some(app.key("workflow")),
        )
        .await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn idempotency_replays_and_refuses_a_different_body(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let quote = app.quote("0320", "labour.internal_regulations_8_100").await;
    let body = json!({"quote_id": quote["id"], "case_reference": "0320000009"});
    let first = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some("k-1"),
            &body,
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(!first.headers.contains_key("idempotency-replayed"));
    let second = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some("k-1"),
            &body,
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.headers["idempotency-replayed"], "true");
    assert_eq!(second.body, first.body);
    let different = json!({"quote_id": quote["id"], "case_reference": "0320000010"});
    let reused = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some("k-1"),
            &different,
        )
        .await;
    assert_eq!(reused.status, StatusCode::CONFLICT);
    assert_eq!(reused.body["code"], "idempotency_key_reused");
    // Keys are scoped to the caller: another key may use the same string for its own request.
    let other = app
        .post(
            "/v1/payment-intents",
            Some(app.key("cashier_0320")),
            Some("k-1"),
            &different,
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED);
    assert_eq!(
        app.scalar_i64("select count(*) from payment_intents").await,
        2
    );
    let missing = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            None,
            &body,
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["code"], "idempotency_key_required");
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_identical_creations_make_one_intent(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let quote = app.quote("0320", "labour.internal_regulations_8_100").await;
    let body = json!({"quote_id": quote["id"], "case_reference": "0320000077"});
    let requests = (0..8).map(|_| {
        app.post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some("same-key"),
            &body,
        )
    });
    let replies = futures_join_all(requests).await;
    let ids: std::collections::HashSet<String> = replies
        .iter()
        .map(|reply| {
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
            reply.body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        app.scalar_i64("select count(*) from payment_intents").await,
        1
    );
}

async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for future in futures {
        set.push(future);
    }
    let mut outputs = Vec::new();
    // Poll them together on this task: tokio::join! needs a fixed count, so use a simple select loop.
    let mut pinned: Vec<_> = set.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (index, future) in pinned.iter_mut().enumerate() {
            if done[index].is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => done[index] = Some(output),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    for output in done {
        outputs.push(output.unwrap());
    }
    outputs
}

#[sqlx::test(migrations = "../migrations")]
async fn expired_quote_cannot_make_an_intent(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let quote = app.quote("0320", "labour.internal_regulations_8_100").await;
    sqlx::query("update quotes set expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let reply = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some("late"),
            &json!({"quote_id": quote["id"], "case_reference": "0320000001"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["code"], "quote_expired");
    assert_eq!(
        app.scalar_i64("select count(*) from payment_intents").await,
        0
    );
    // The failed request left no idempotency record behind, so the key can be used again.
    assert_eq!(
        app.scalar_i64("select count(*) from idempotency_keys")
            .await,
        0
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn intent_input_is_validated(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let quote = app.quote("0320", "labour.internal_regulations_8_100").await;
    for (body, parameter, idempotency_key) in [
        (json!({"quote_id": quote["id"], "case_reference": ""}), "case_reference"),
        (json!({"quote_id": quote["id"], "case_reference": "x".repeat(65)}), "case_reference"),
        (json!({"quote_id": quote["id"], "case_reference": "ok1", "payer": {"phone": "call me"}}), "payer.phone"),
        (json!({"quote_id": quote["id"], "case_reference": "ok1", "return_url": "javascript:alert(1)"}), "return_url"),
        (json!({"quote_id": quote["id"], "case_reference": "ok1", "expires_in_s": 5}), "expires_in_s"),
    ]
    .into_iter()
    .enumerate()
    .map(|(index, (body, parameter))| (body, parameter, format!("v-{index}")))
    {
        let reply = app.post("/v1/payment-intents", Some(app.key("workflow")), Some(&idempotency_key), &body).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reply.body["parameter"], parameter);
    }
    let unknown_quote = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some("nq"),
            &json!({"quote_id": uuid::Uuid::nil(), "case_reference": "a"}),
        )
        .await;
    assert_eq!(unknown_quote.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.scalar_i64("select count(*) from payment_intents").await,
        0
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn cancel_moves_only_from_awaiting_payment(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320000123").await;
    let id = intent["id"].as_str().unwrap();
    let cancelled = app
        .post(
            &format!("/v1/payment-intents/{id}/cancel"),
            Some(app.key("workflow")),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    assert_eq!(cancelled.body["status"], "cancelled");
    let again = app
        .post(
            &format!("/v1/payment-intents/{id}/cancel"),
            Some(app.key("workflow")),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        app.scalar_i64("select count(*) from outbox_events where event_type = 'payment.cancelled'")
            .await,
        1
    );
    let attempt = app
        .post(
            &format!("/v1/payment-intents/{id}/attempts"),
            Some(app.key("workflow")),
            Some("after-cancel"),
            &json!({"channel": "sandbox"}),
        )
        .await;
    assert_eq!(attempt.status, StatusCode::CONFLICT);
    assert_eq!(attempt.body["code"], "invalid_state");
}

#[sqlx::test(migrations = "../migrations")]
async fn intents_expire_with_an_event(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320000555").await;
    let id = intent["id"].as_str().unwrap();
    sqlx::query("update payment_intents set expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let count = payments::workers::expiry::sweep(&app.state).await.unwrap();
    assert_eq!(count, 1);
    let fetched = app
        .get(
            &format!("/v1/payment-intents/{id}"),
            Some(app.key("workflow")),
        )
        .await;
    assert_eq!(fetched.body["status"], "expired");
    assert_eq!(
        app.scalar_i64("select count(*) from outbox_events where event_type = 'payment.expired'")
            .await,
        1
    );
    assert_eq!(
        payments::workers::expiry::sweep(&app.state).await.unwrap(),
        0
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_citizen_pays_with_the_link_token_only(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320000321").await;
    let id = intent["id"].as_str().unwrap();
    let token = intent["pay_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let public = app.get(&format!("/v1/public/payments/{token}"), None).await;
    assert_eq!(public.status, StatusCode::OK);
    assert_eq!(public.body["case_reference"], "0320000321");
    let page = app.get(&format!("/pay/{token}"), None).await;
    assert!(page.body.as_str().unwrap().contains("ការបង់កម្រៃសេវា"));
    let wrong = app
        .post(
            &format!("/v1/payment-intents/{id}/attempts"),
            Some("pt_wrong"),
            Some("c1"),
            &json!({"channel": "sandbox"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    let right = app
        .post(
            &format!("/v1/payment-intents/{id}/attempts"),
            Some(&token),
            Some("c1"),
            &json!({"channel": "sandbox"}),
        )
        .await;
    assert_eq!(right.status, StatusCode::CREATED, "{}", right.body);
    assert_eq!(
        app.get("/v1/public/payments/pt_nope", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn unavailable_channels_are_refused_clearly(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320000444").await;
    let id = intent["id"].as_str().unwrap();
    let bogus = app
        .post(
            &format!("/v1/payment-intents/{id}/attempts"),
            Some(app.key("workflow")),
            Some("b"),
            &json!({"channel": "paypal"}),
        )
        .await;
    assert_eq!(bogus.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bogus.body["code"], "validation_failed");
    let later = app
        .post(
            &format!("/v1/payment-intents/{id}/attempts"),
            Some(app.key("workflow")),
            Some("w"),
            &json!({"channel": "wing"}),
        )
        .await;
    assert_eq!(later.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(later.body["code"], "channel_unavailable");
    assert_eq!(
        app.scalar_i64("select count(*) from payment_attempts")
            .await,
        0
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn lists_page_with_an_opaque_cursor(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let mut created = Vec::new();
    for case in 0..5 {
        created.push(
            app.intent(&format!("03200300{case}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut seen = Vec::new();
    let mut path = "/v1/payment-intents?limit=2".to_owned();
    loop {
        let page = app.get(&path, Some(app.key("workflow"))).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let data = page.body["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        seen.extend(
            data.iter()
                .map(|intent| intent["id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/payment-intents?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    created.reverse();
    assert_eq!(seen, created, "newest first, each once");
    for bad in ["limit=0", "limit=501", "cursor=not-ours", "status=lost"] {
        let reply = app
            .get(
                &format!("/v1/payment-intents?{bad}"),
                Some(app.key("workflow")),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn attempts_of_an_intent_page_with_limit_and_cursor(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320000555").await;
    let id = intent["id"].as_str().unwrap();
    let mut made = Vec::new();
    for n in 0..3 {
        let attempt = app
            .post(
                &format!("/v1/payment-intents/{id}/attempts"),
                Some(app.key("workflow")),
                Some(&format!("page-{n}")),
                &json!({"channel": "sandbox"}),
            )
            .await;
        assert_eq!(attempt.status, StatusCode::CREATED, "{}", attempt.body);
        made.push(attempt.body["id"].as_str().unwrap().to_owned());
    }
    let whole = app
        .get(
            &format!("/v1/payment-intents/{id}/attempts"),
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(whole.status, StatusCode::OK, "{}", whole.body);
    assert_eq!(whole.body["data"].as_array().unwrap().len(), 3);
    assert!(whole.body["next_cursor"].is_null());
    // Two at a time, oldest first, each once.
    let mut seen = Vec::new();
    let mut path = format!("/v1/payment-intents/{id}/attempts?limit=2");
    let mut pages = 0;
    loop {
        let page = app.get(&path, Some(app.key("workflow"))).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let data = page.body["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        seen.extend(data.iter().map(|a| a["id"].as_str().unwrap().to_owned()));
        pages += 1;
        match page.body["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/v1/payment-intents/{id}/attempts?limit=2&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(seen, made, "oldest first, each once");
    for (bad, parameter) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=not-ours", "cursor"),
    ] {
        let reply = app
            .get(
                &format!("/v1/payment-intents/{id}/attempts?{bad}"),
                Some(app.key("workflow")),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(reply.body["parameter"], parameter, "{bad}");
    }
}
