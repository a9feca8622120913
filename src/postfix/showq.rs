//! The queue as Postfix's `showq(8)` lists it: messages per queue and the
//! oldest message's arrival, for `postkickd status` and the metrics.
//!
//! showq announces `mail_queue_list_protocol`, then sends one attribute
//! list per message (`queue_name`, `queue_id`, `time`, ... then its
//! recipients) and an empty list at the end, walking maildrop, active,
//! incoming, deferred and hold. This reads that stream and keeps only
//! counts: memory does not grow with the queue, and the read stops at a
//! cap on messages or at a deadline, whichever comes first, and says so
//! ([`QueueReading::complete`]). It never opens a queue file itself.

use std::path::Path;

use tokio::time::Instant;

use super::attr::{AttrError, Connection, Item, Limits};

/// The protocol a showq server announces.
pub const PROTOCOL: &str = "mail_queue_list_protocol";

/// The queues showq walks, in its order.
pub const QUEUES: [&str; 5] = ["maildrop", "active", "incoming", "deferred", "hold"];

/// One queue's messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCount {
    /// Messages listed.
    pub messages: u64,
    /// The earliest arrival among them (Unix time), if any.
    pub oldest: Option<i64>,
}

/// What one read of showq found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueReading {
    /// Per queue, in [`QUEUES`] order.
    pub queues: [QueueCount; 5],
    /// False when the read stopped at its cap or deadline: the counts are
    /// then lower bounds.
    pub complete: bool,
}

impl QueueReading {
    /// Messages in all queues.
    pub fn total(&self) -> u64 {
        self.queues.iter().map(|q| q.messages).sum()
    }

    fn count(&mut self, queue: &str, time: Option<i64>) {
        if let Some(index) = QUEUES.iter().position(|q| *q == queue) {
            let count = &mut self.queues[index];
            count.messages += 1;
            if let Some(time) = time {
                count.oldest = Some(count.oldest.map_or(time, |t| t.min(time)));
            }
        }
    }
}

/// Reads the queue from the showq server at `path`: at most `cap`
/// messages, and only until `deadline`; past either, what was counted so
/// far with `complete: false`. An error only when nothing can be said
/// (no server, another protocol, bytes that are not attribute lists).
pub async fn read(path: &Path, cap: u64, deadline: Instant) -> Result<QueueReading, AttrError> {
    let mut connection = Connection::open(path, deadline, Limits::default()).await?;
    connection.expect_protocol(PROTOCOL).await?;
    let mut reading = QueueReading::default();
    let mut queue: Option<String> = None;
    let mut time: Option<i64> = None;
    let mut attributes = 0usize;
    loop {
        let item = match connection.next_item().await {
            Ok(item) => item,
            Err(AttrError::Timeout { .. }) => return Ok(reading),
            Err(e) => return Err(e),
        };
        match item {
            Item::End if attributes == 0 => {
                reading.complete = true;
                return Ok(reading);
            }
            Item::End => {
                let Some(name) = queue.take() else {
                    return Err(connection.malformed("a message without queue_name".to_owned()));
                };
                reading.count(&name, time.take());
                attributes = 0;
                if reading.total() >= cap {
                    return Ok(reading);
                }
            }
            Item::Attribute { name, value } => {
                attributes += 1;
                match name.as_str() {
                    "queue_name" => queue = Some(value),
                    "time" => time = value.parse().ok(),
                    _ => {}
                }
            }
        }
    }
}
