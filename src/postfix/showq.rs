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
                    // Complete only if the listing ends right here.
                    reading.complete = matches!(connection.next_item().await, Ok(Item::End));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postfix::attr::encode;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    /// A showq that announces `protocol`, lists `messages` held messages
    /// (arrived at 1000, 1001, ...) and then, unless `hang`, ends the list.
    async fn serve(dir: &Path, protocol: &str, messages: usize, hang: bool) -> std::path::PathBuf {
        let path = dir.join("showq");
        let listener = tokio::net::UnixListener::bind(&path).expect("bind");
        let protocol = protocol.to_owned();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut bytes = encode(&[("protocol", &protocol)]);
            for i in 0..messages {
                let time = (1000 + i).to_string();
                let mut list = encode(&[
                    ("queue_name", "hold"),
                    ("queue_id", "4XyZ"),
                    ("time", &time),
                    ("size", "300"),
                    ("forced_expire", "0"),
                    ("sender", "root@example.com"),
                    ("original_recipient", "a@example.com"),
                    ("recipient", "a@example.com"),
                    ("log_class", ""),
                    ("reason", ""),
                ]);
                bytes.append(&mut list);
            }
            if !hang {
                bytes.push(0);
            }
            let _ = stream.write_all(&bytes).await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        path
    }

    /// What `read` makes of a showq that announces `protocol` and lists
    /// `messages` (then hangs, with `hang`), read with `cap`.
    fn read_from(
        protocol: &str,
        messages: usize,
        hang: bool,
        cap: u64,
    ) -> Result<QueueReading, AttrError> {
        let dir = tempfile::tempdir().expect("tempdir");
        crate::runtime().expect("runtime").block_on(async {
            let path = serve(dir.path(), protocol, messages, hang).await;
            read(&path, cap, Instant::now() + Duration::from_millis(500)).await
        })
    }

    #[test]
    fn a_whole_listing_is_counted_per_queue_with_its_oldest() {
        let reading = read_from(PROTOCOL, 7, false, 100).expect("read");
        assert!(reading.complete);
        assert_eq!(reading.total(), 7);
        assert_eq!(
            reading.queues[4],
            QueueCount {
                messages: 7,
                oldest: Some(1000)
            }
        );
    }

    #[test]
    fn the_cap_and_the_deadline_give_counts_marked_incomplete() {
        let capped = read_from(PROTOCOL, 7, false, 5).expect("read");
        assert_eq!((capped.total(), capped.complete), (5, false));
        let exactly = read_from(PROTOCOL, 7, false, 7).expect("read");
        assert_eq!((exactly.total(), exactly.complete), (7, true));
        let hung = read_from(PROTOCOL, 3, true, 100).expect("read");
        assert_eq!((hung.total(), hung.complete), (3, false));
    }

    #[test]
    fn another_protocol_is_refused() {
        let refused = read_from("queue_flush_protocol", 1, false, 100);
        assert!(
            matches!(refused, Err(AttrError::WrongProtocol { ref found, .. }) if found == "queue_flush_protocol"),
            "{refused:?}"
        );
    }
}
