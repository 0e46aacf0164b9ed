//! Reading a message row: by position, and naming the column that cannot be read.

use super::*;

/// A `SELECT {MESSAGE}`-shaped row with the given SQL for each column.
fn read(columns: [&str; 10]) -> Result<Message> {
    let conn = Connection::open_in_memory().unwrap();
    let names = MESSAGE.split(", ");
    let select: Vec<String> = columns
        .iter()
        .zip(names)
        .map(|(value, name)| format!("{value} AS {name}"))
        .collect();
    one(&conn, &format!("SELECT {}", select.join(", ")), [], message).map(|m| m.expect("one row"))
}

const GOOD: [&str; 10] = [
    "'6f1c1ad2-8d4e-4a8e-9d7b-0b4a5b3e2f10'",
    "'0b7f4c1e-2a3d-4e5f-8a9b-1c2d3e4f5a6b'",
    "3",
    "'assistant'",
    "'hello'",
    "'[]'",
    "'completed'",
    "'{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}'",
    "1700000000000000",
    "4",
];

#[test]
fn a_message_row_is_read_by_position() {
    let m = read(GOOD).unwrap();
    assert_eq!(m.seq, 3);
    assert_eq!(m.role, crate::model::Role::Assistant);
    assert_eq!(m.content, "hello");
    assert_eq!(m.usage.unwrap().total_tokens, 7);
    assert_eq!(m.created_at.timestamp(), 1_700_000_000);
    // Only an answer in progress shows how many deltas its text holds.
    assert_eq!(m.next_seq, None);
    let mut columns = GOOD;
    columns[6] = "'in_progress'";
    assert_eq!(read(columns).unwrap().next_seq, Some(4));
}

#[test]
fn an_unreadable_column_is_named_in_the_error() {
    for (position, bad, name) in [
        (0, "'not-a-uuid'", "id"),
        (5, "'[oops'", "tool_calls"),
        (7, "'{'", "usage"),
        (3, "'robot'", "role"),
    ] {
        let mut columns = GOOD;
        columns[position] = bad;
        match read(columns) {
            Err(Error::Internal(message)) => {
                assert!(message.contains(&format!("`{name}`")), "{message}")
            }
            other => panic!("{name}: expected an internal error, got {other:?}"),
        }
    }
}
