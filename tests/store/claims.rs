//! Conformance cases for a thread's claim among instances written with a turn's messages
//! (`ClaimStep`): taken by the first write, freed by the last, each in the same statement.
//! Only PostgreSQL holds claims; SQLite, which serves one instance, refuses the steps.

use agentwire::store::ClaimStep;
use uuid::Uuid;

use super::*;

conformance!(@url
    the_first_write_takes_the_claim_and_the_last_frees_it,
    a_held_claim_refuses_the_write_whole,
);

async fn the_first_write_takes_the_claim_and_the_last_frees_it(s: Store, _url: String) {
    let a = &alice();
    let me = Uuid::new_v4();
    let c = conv(&s, a).await;
    let Some(relay) = s.relay_db() else {
        // SQLite: no claims, and nothing written by a write that asks for one.
        for step in [ClaimStep::Take(me), ClaimStep::Release(me)] {
            let err = s.append_message_claiming(a, &msg(c.id, "x"), step).await;
            assert!(matches!(err, Err(Error::Internal(_))), "{err:?}");
        }
        let first = msg(ThreadId::new(), "x");
        let err = s
            .start_conversation_claiming(a, None, &json!({}), &first, ClaimStep::Take(me))
            .await;
        assert!(matches!(err, Err(Error::Internal(_))), "{err:?}");
        assert_eq!(say(&s, a, c.id, "plain").await.seq, 1);
        assert!(s
            .get_conversation(a, first.conversation_id)
            .await
            .unwrap()
            .is_none());
        return;
    };
    let m = s
        .append_message_claiming(a, &msg(c.id, "hi"), ClaimStep::Take(me))
        .await
        .unwrap();
    assert_eq!(m.seq, 1);
    assert!(relay.turn_running(c.id, a).await.unwrap());
    // Another instance's first write finds the thread busy.
    let err = s
        .append_message_claiming(a, &msg(c.id, "too"), ClaimStep::Take(Uuid::new_v4()))
        .await;
    assert!(matches!(err, Err(Error::ThreadBusy)), "{err:?}");
    // Freeing it takes the holder's id: another instance's step frees nothing.
    let answer = s
        .append_message_claiming(a, &msg(c.id, "other"), ClaimStep::Release(Uuid::new_v4()))
        .await
        .unwrap();
    assert_eq!(answer.seq, 2);
    assert!(relay.turn_running(c.id, a).await.unwrap());
    let last = s
        .append_message_claiming(a, &msg(c.id, "bye"), ClaimStep::Release(me))
        .await
        .unwrap();
    assert_eq!(last.seq, 3);
    assert!(!relay.turn_running(c.id, a).await.unwrap());
    // A new thread is claimed by the write that creates it.
    let first = msg(ThreadId::new(), "new");
    let (t, m) = s
        .start_conversation_claiming(a, None, &json!({}), &first, ClaimStep::Take(me))
        .await
        .unwrap();
    assert_eq!(m.seq, 1);
    assert!(relay.turn_running(t.id, a).await.unwrap());
    assert!(!relay.turn_running(t.id, &bob()).await.unwrap());
    // The last write frees the claim even when its message cannot be written: the thread was
    // deleted under the turn.
    assert!(s.delete_conversation(a, t.id).await.unwrap());
    relay.claim_turn(t.id, a, me).await.unwrap();
    let err = s
        .append_message_claiming(a, &msg(t.id, "late"), ClaimStep::Release(me))
        .await;
    assert!(
        matches!(err, Err(Error::NotFound("conversation"))),
        "{err:?}"
    );
    assert!(!relay.turn_running(t.id, a).await.unwrap());
}

async fn a_held_claim_refuses_the_write_whole(s: Store, url: String) {
    let Some(relay) = s.relay_db() else {
        return;
    };
    let (a, b) = (&alice(), &bob());
    let c = conv(&s, a).await;
    say(&s, a, c.id, "first").await;
    let other = Uuid::new_v4();
    assert!(relay.claim_turn(c.id, a, other).await.unwrap());
    let before = s.get_conversation(a, c.id).await.unwrap();
    let busy = NewMessage {
        details: Some(json!({"x": 1})),
        ..msg(c.id, "busy")
    };
    let err = s
        .append_message_claiming(a, &busy, ClaimStep::Take(Uuid::new_v4()))
        .await;
    assert!(matches!(err, Err(Error::ThreadBusy)), "{err:?}");
    // Nothing of it: no message, no details, the conversation untouched.
    assert_eq!(s.get_conversation(a, c.id).await.unwrap(), before);
    assert!(s.message_details(a, c.id).await.unwrap().is_empty());
    assert_eq!(say(&s, a, c.id, "next").await.seq, 2);
    // Another user's thread, or none: not found, and no claim left behind.
    let me = Uuid::new_v4();
    let mine = conv(&s, a).await;
    let err = s
        .append_message_claiming(b, &msg(mine.id, "x"), ClaimStep::Take(me))
        .await;
    assert!(
        matches!(err, Err(Error::NotFound("conversation"))),
        "{err:?}"
    );
    assert!(!relay.turn_running(mine.id, a).await.unwrap());
    assert!(!relay.turn_running(mine.id, b).await.unwrap());
    let err = s
        .append_message_claiming(a, &msg(ThreadId::new(), "x"), ClaimStep::Take(me))
        .await;
    assert!(
        matches!(err, Err(Error::NotFound("conversation"))),
        "{err:?}"
    );
    // A claim its instance stopped refreshing is taken over.
    let mut conn = PgConnection::connect(&url).await.unwrap();
    conn.execute("UPDATE running_turns SET seen_at = now() - interval '10 minutes'")
        .await
        .unwrap();
    let m = s
        .append_message_claiming(a, &msg(c.id, "mine now"), ClaimStep::Take(me))
        .await
        .unwrap();
    assert_eq!(m.seq, 3);
    s.append_message_claiming(a, &msg(c.id, "done"), ClaimStep::Release(me))
        .await
        .unwrap();
    assert!(!relay.turn_running(c.id, a).await.unwrap());
}
