use super::*;
use crate::io::spec::{ChannelKind, SocketSpec};
use crate::quiescence::Quiescence;
use crate::test_support::soon;

pub(super) fn spec(direction: Direction) -> ChannelSpec {
    ChannelSpec {
        name: "test".to_owned(),
        direction,
        unit: Unit::Line,
        max_line: 1024,
        queue: 2,
        kind: ChannelKind::Socket(SocketSpec {
            path: "/unused".into(),
            mode: 0o600,
        }),
    }
}

/// Queues `lines` as one run, as a socket read that framed them would.
async fn deliver_lines(channel: &Channel, sender: &InboundSender, lines: &[&str]) {
    assert!(
        channel
            .deliver(
                sender,
                vec![Inbound::Lines(LineRun::of(lines.iter().copied()))]
            )
            .await
    );
}

#[tokio::test]
async fn close_ends_a_pending_read_with_closed() {
    let (channel, _sender) = Channel::new(&spec(Direction::InOut));
    let reader = tokio::spawn({
        let channel = channel.clone();
        async move { channel.read().await }
    });
    tokio::task::yield_now().await;
    channel.close();
    assert_eq!(
        soon(reader).await.expect("no panic"),
        Err(ChannelError::Closed)
    );
    assert_eq!(channel.read().await, Err(ChannelError::Closed));
}

#[tokio::test]
async fn close_ends_a_write_blocked_on_a_client_that_does_not_read() {
    let (channel, _sender) = Channel::new(&spec(Direction::Out));
    let (ours, _theirs) = tokio::net::UnixStream::pair().expect("socket pair");
    channel
        .attach_client(ClientWriter::new(1, Box::new(ours)))
        .await;
    // Far more than the socket buffers hold: this write cannot finish.
    let line = "x".repeat(16 * 1024 * 1024);
    let writer = tokio::spawn({
        let channel = channel.clone();
        async move { channel.write(&line).await }
    });
    // Once bytes arrive the write is under way, and it is blocked: the
    // peer reads nothing.
    soon(async {
        while rustix::io::ioctl_fionread(&_theirs).unwrap_or(0) == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    channel.close();
    assert_eq!(
        soon(writer).await.expect("no panic"),
        Err(ChannelError::Closed)
    );
}

#[tokio::test]
async fn output_held_back_for_pending_input_is_flushed_soon_anyway() {
    use tokio::io::AsyncReadExt;
    let (channel, sender) = Channel::new(&spec(Direction::InOut));
    let (ours, mut theirs) = tokio::net::UnixStream::pair().expect("socket pair");
    channel
        .attach_client(ClientWriter::new(1, Box::new(ours)))
        .await;
    let flusher = tokio::spawn({
        let channel = channel.clone();
        async move { channel.flush_lagging_output().await }
    });
    // Input the vat has not read yet: the reply is held back...
    deliver_lines(&channel, &sender, &["unread"]).await;
    channel.write("reply").await.expect("write");
    // ...but reaches the client without the vat doing anything more.
    let mut received = [0u8; 6];
    soon(theirs.read_exact(&mut received)).await.expect("read");
    assert_eq!(&received, b"reply\n");
    channel.close();
    soon(flusher).await.expect("flusher ends on close");
}

#[tokio::test]
async fn close_wakes_a_pending_readiness_wait() {
    let (channel, _sender) = Channel::new(&spec(Direction::In));
    let waiter = tokio::spawn({
        let channel = channel.clone();
        async move { channel.readable().await }
    });
    tokio::task::yield_now().await;
    channel.close();
    soon(waiter).await.expect("no panic");
}

#[tokio::test]
async fn readiness_does_not_consume_the_line() {
    let (channel, sender) = Channel::new(&spec(Direction::InOut));
    deliver_lines(&channel, &sender, &["one"]).await;
    soon(channel.readable()).await;
    soon(channel.readable()).await;
    assert_eq!(channel.read().await, Ok(Some("one".to_owned())));
}

#[tokio::test]
async fn direction_and_newlines_are_checked_before_anything_else() {
    let (out, _) = Channel::new(&spec(Direction::Out));
    assert_eq!(out.read().await, Err(ChannelError::NotReadable));
    // An unreadable channel is "ready": `read` returns at once.
    soon(out.readable()).await;
    let (input, _) = Channel::new(&spec(Direction::In));
    assert_eq!(input.write("x").await, Err(ChannelError::NotWritable));
    let (both, _) = Channel::new(&spec(Direction::InOut));
    assert!(matches!(
        both.write("a\nb").await,
        Err(ChannelError::InvalidData(_))
    ));
    assert_eq!(both.write("a").await, Err(ChannelError::NoClient));
}

#[tokio::test]
async fn a_block_is_read_in_order_and_its_room_returns_once_it_is_read() {
    let (channel, sender) = Channel::new(&spec(Direction::InOut));
    // `queue` is 2: a run of three lines goes as a block of two and a block of one,
    // the second waiting for room until the first is read.
    let deliver = tokio::spawn({
        let channel = channel.clone();
        async move {
            channel
                .deliver(
                    &sender,
                    vec![
                        Inbound::Lines(LineRun::of(["a", "b", "c"])),
                        Inbound::EndOfStream { session: None },
                    ],
                )
                .await
        }
    });
    for expected in ["a", "b", "c"] {
        assert_eq!(soon(channel.read()).await, Ok(Some(expected.to_owned())));
    }
    assert_eq!(soon(channel.read()).await, Ok(None));
    assert!(soon(deliver).await.expect("no panic"));
    assert_eq!(channel.stats().lines_in, 3);
}

#[tokio::test]
async fn a_batch_of_lines_is_read_for_good_only_at_the_next_call() {
    let (channel, sender) = Channel::new(&ChannelSpec {
        queue: 4,
        ..spec(Direction::InOut)
    });
    let reading = Quiescence::new(true);
    assert!(
        channel
            .deliver(
                &sender,
                vec![
                    Inbound::Lines(LineRun::of(["a", "bb"])),
                    Inbound::TooLong,
                    Inbound::EndOfStream { session: None },
                ],
            )
            .await
    );
    // The lines come as one text; the error after them waits its turn.
    assert_eq!(
        soon(channel.read_lines(1024, &reading)).await,
        Ok(Some("a\nbb\n".to_owned()))
    );
    assert_eq!(reading.lines_in_hand(), 2);
    // The vat used only the first: it is read for good, the second comes
    // again, alone.
    channel.give_back(1).await.expect("give back");
    assert_eq!(reading.lines_in_hand(), 0);
    assert_eq!(soon(channel.read()).await, Ok(Some("bb".to_owned())));
    assert_eq!(
        soon(channel.read_lines(1024, &reading)).await,
        Err(ChannelError::TooLong(1024))
    );
    assert_eq!(soon(channel.read_lines(1024, &reading)).await, Ok(None));
    assert_eq!(channel.stats().lines_in, 2);
}

#[tokio::test]
async fn a_batch_is_bounded_in_bytes_and_gives_back_no_more_than_it_held() {
    let (channel, sender) = Channel::new(&spec(Direction::InOut));
    let reading = Quiescence::new(true);
    deliver_lines(&channel, &sender, &["aaaa", "b"]).await;
    // A first line longer than the bound still comes, alone.
    assert_eq!(
        soon(channel.read_lines(2, &reading)).await,
        Ok(Some("aaaa\n".to_owned()))
    );
    channel.give_back(5).await.expect("give back");
    assert_eq!(
        soon(channel.read_lines(100, &reading)).await,
        Ok(Some("aaaa\nb\n".to_owned()))
    );
    // Waiting for input means the vat used the batch: it is read for good.
    deliver_lines(&channel, &sender, &["c"]).await;
    assert_eq!(reading.lines_in_hand(), 2);
    soon(channel.readable()).await;
    assert_eq!(reading.lines_in_hand(), 0);
    channel
        .give_back(2)
        .await
        .expect("nothing left to give back");
    assert_eq!(
        soon(channel.read_lines(100, &reading)).await,
        Ok(Some("c\n".to_owned()))
    );
}

#[tokio::test]
async fn written_lines_must_each_end_with_a_newline() {
    let (channel, _) = Channel::new(&spec(Direction::InOut));
    assert!(matches!(
        channel.write_lines("a\nb").await,
        Err(ChannelError::InvalidData(_))
    ));
    assert_eq!(channel.write_lines("").await, Ok(()));
    assert_eq!(
        channel.write_lines("a\n").await,
        Err(ChannelError::NoClient)
    );
    let (input, _) = Channel::new(&spec(Direction::In));
    assert_eq!(
        input.write_lines("a\n").await,
        Err(ChannelError::NotWritable)
    );
}

#[tokio::test]
async fn without_batches_lines_are_handed_one_at_a_time() {
    let (channel, sender) = Channel::new(&spec(Direction::InOut));
    let reading = Quiescence::new(false);
    deliver_lines(&channel, &sender, &["a", "b"]).await;
    for expected in ["a\n", "b\n"] {
        assert_eq!(
            soon(channel.read_lines(1024, &reading)).await,
            Ok(Some(expected.to_owned()))
        );
        // A line handed alone is begun work, not a batch held.
        assert_eq!(reading.lines_in_hand(), 0);
    }
}

#[tokio::test]
async fn giving_back_nothing_reads_the_whole_batch_for_good() {
    let (channel, sender) = Channel::new(&spec(Direction::InOut));
    let reading = Quiescence::new(true);
    deliver_lines(&channel, &sender, &["a", "b"]).await;
    assert_eq!(
        soon(channel.read_lines(100, &reading)).await,
        Ok(Some("a\nb\n".to_owned()))
    );
    assert_eq!(reading.lines_in_hand(), 2);
    channel.give_back(0).await.expect("give back nothing");
    assert!(reading.is_quiet());
    // Nothing is left to give back later, and nothing comes again.
    channel.give_back(2).await.expect("give back");
    deliver_lines(&channel, &sender, &["c"]).await;
    assert_eq!(soon(channel.read()).await, Ok(Some("c".to_owned())));
}
