//! Which messages the vat has taken, finished with and answered, in arrival
//! order: what request/reply and JetStream acknowledgements follow.
//!
//! Every message handed to the channel is registered first (so the vat can
//! never take one that is not here). A write answers the oldest request
//! taken and not yet answered; a message is finished with once the vat
//! comes back for input, and a JetStream message is acknowledged then.

use std::collections::VecDeque;

use async_nats::Subject;

/// One message handed to the channel.
#[derive(Debug, Clone)]
pub(super) struct Receipt {
    /// Where its answer goes (`inout`), or its acknowledgement (JetStream).
    pub(super) reply: Option<Subject>,
    /// A request the vat sees: its next write answers it. A message the vat
    /// read as an error (not UTF-8, too long) is no request.
    pub(super) request: bool,
}

/// What a write answers.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Answer {
    /// The request's reply subject.
    To(Subject),
    /// The request had no reply subject, or no request is waiting.
    Nobody,
}

#[derive(Debug)]
pub(super) struct Receipts {
    /// From the oldest message not yet both finished with and answered.
    receipts: VecDeque<Receipt>,
    /// How many of `receipts` (from the front) the vat has taken.
    taken: usize,
    /// How many of those it has finished with.
    finished: usize,
    /// How many of those it has answered (or that need no answer).
    answered: usize,
    /// Whether writes answer requests (`inout`).
    requests: bool,
    /// The most requests taken and unanswered; past it the oldest is given
    /// up on (its requester times out), so a vat that never answers cannot
    /// make the host remember without bound.
    max_unanswered: usize,
}

impl Receipts {
    pub(super) fn new(requests: bool, max_unanswered: usize) -> Self {
        Self {
            receipts: VecDeque::new(),
            taken: 0,
            finished: 0,
            answered: 0,
            requests,
            max_unanswered: max_unanswered.max(1),
        }
    }

    pub(super) fn register(&mut self, receipts: impl IntoIterator<Item = Receipt>) {
        self.receipts.extend(receipts);
    }

    pub(super) fn taken(&mut self, count: usize) {
        self.taken = (self.taken + count).min(self.receipts.len());
        if self.requests {
            while self.taken - self.answered > self.max_unanswered {
                self.answered += 1;
            }
        } else {
            self.answered = self.taken;
        }
    }

    pub(super) fn given_back(&mut self, count: usize) {
        self.taken = self.taken.saturating_sub(count).max(self.finished);
        self.answered = self.answered.min(self.taken);
    }

    /// The vat is done with every message taken: their acknowledgement
    /// subjects (for JetStream), oldest first.
    pub(super) fn finish(&mut self) -> Vec<Subject> {
        let acks = self
            .receipts
            .range(self.finished..self.taken)
            .filter(|_| !self.requests)
            .filter_map(|receipt| receipt.reply.clone())
            .collect();
        self.finished = self.taken;
        self.forget_settled();
        acks
    }

    /// What the vat's next write answers.
    pub(super) fn answer(&mut self) -> Answer {
        while self.answered < self.taken {
            let receipt = &self.receipts[self.answered];
            self.answered += 1;
            if !receipt.request {
                continue;
            }
            let answer = match &receipt.reply {
                Some(reply) => Answer::To(reply.clone()),
                None => Answer::Nobody,
            };
            self.forget_settled();
            return answer;
        }
        Answer::Nobody
    }

    /// The messages taken and not finished with, forgotten (they go back to
    /// the server): their reply subjects.
    pub(super) fn take_back_unfinished(&mut self) -> Vec<Subject> {
        let unfinished: Vec<Subject> = self
            .receipts
            .drain(self.finished..self.taken)
            .filter_map(|receipt| receipt.reply)
            .collect();
        self.taken = self.finished;
        self.answered = self.answered.min(self.taken);
        unfinished
    }

    /// The reply subjects of the messages the vat has not finished with.
    pub(super) fn unfinished(&self) -> Vec<Subject> {
        self.receipts
            .range(self.finished..)
            .filter_map(|receipt| receipt.reply.clone())
            .collect()
    }

    /// The messages registered and not taken (which go back to the server
    /// when the channel closes), forgetting them.
    pub(super) fn untaken(&mut self) -> Vec<Subject> {
        self.receipts
            .drain(self.taken..)
            .filter_map(|receipt| receipt.reply)
            .collect()
    }

    fn forget_settled(&mut self) {
        let settled = self.finished.min(self.answered);
        self.receipts.drain(..settled);
        self.taken -= settled;
        self.finished -= settled;
        self.answered -= settled;
    }

    #[cfg(test)]
    pub(super) fn remembered(&self) -> usize {
        self.receipts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(reply: &str) -> Receipt {
        Receipt {
            reply: Some(Subject::from(reply)),
            request: true,
        }
    }

    fn to(reply: &str) -> Answer {
        Answer::To(Subject::from(reply))
    }

    #[test]
    fn writes_answer_the_requests_taken_in_order() {
        let mut receipts = Receipts::new(true, 16);
        receipts.register([request("a"), request("b"), request("c")]);
        assert_eq!(receipts.answer(), Answer::Nobody, "nothing taken yet");
        receipts.taken(2);
        assert_eq!(receipts.answer(), to("a"));
        receipts.finish();
        assert_eq!(receipts.answer(), to("b"));
        assert_eq!(receipts.answer(), Answer::Nobody, "c is not taken");
        receipts.taken(1);
        assert_eq!(receipts.answer(), to("c"));
        receipts.finish();
        assert_eq!(receipts.remembered(), 0);
    }

    #[test]
    fn a_request_without_reply_subject_and_an_unreadable_message() {
        let mut receipts = Receipts::new(true, 16);
        let unreadable = Receipt {
            reply: Some(Subject::from("x")),
            request: false,
        };
        let no_reply = Receipt {
            reply: None,
            request: true,
        };
        receipts.register([unreadable, no_reply, request("b")]);
        receipts.taken(3);
        assert_eq!(receipts.answer(), Answer::Nobody, "the one without reply");
        assert_eq!(receipts.answer(), to("b"), "the unreadable one is skipped");
    }

    #[test]
    fn lines_given_back_are_not_answered_by_this_vat() {
        let mut receipts = Receipts::new(true, 16);
        receipts.register([request("a"), request("b"), request("c")]);
        receipts.taken(3);
        receipts.given_back(2);
        assert_eq!(receipts.answer(), to("a"));
        assert_eq!(receipts.answer(), Answer::Nobody);
        receipts.taken(2);
        assert_eq!(receipts.answer(), to("b"));
    }

    #[test]
    fn acknowledgements_come_when_the_vat_is_back_for_more() {
        let mut receipts = Receipts::new(false, 16);
        receipts.register([request("1"), request("2"), request("3")]);
        receipts.taken(2);
        assert_eq!(
            receipts.finish(),
            vec![Subject::from("1"), Subject::from("2")]
        );
        assert!(receipts.finish().is_empty(), "each acknowledged once");
        receipts.taken(1);
        assert_eq!(receipts.untaken(), Vec::<Subject>::new());
        assert_eq!(receipts.finish(), vec![Subject::from("3")]);
        assert_eq!(receipts.remembered(), 0);
    }

    #[test]
    fn what_a_vat_took_and_did_not_finish_goes_back_when_it_lets_go() {
        let mut receipts = Receipts::new(false, 16);
        receipts.register([request("1"), request("2"), request("3")]);
        receipts.taken(1);
        receipts.finish();
        receipts.taken(1);
        assert_eq!(receipts.take_back_unfinished(), vec![Subject::from("2")]);
        // The next vat takes what follows, and finishing acknowledges it
        // alone.
        receipts.taken(1);
        assert_eq!(receipts.finish(), vec![Subject::from("3")]);
        assert_eq!(receipts.remembered(), 0);
    }

    #[test]
    fn untaken_messages_go_back() {
        let mut receipts = Receipts::new(false, 16);
        receipts.register([request("1"), request("2"), request("3")]);
        receipts.taken(1);
        assert_eq!(
            receipts.untaken(),
            vec![Subject::from("2"), Subject::from("3")]
        );
        assert_eq!(receipts.finish(), vec![Subject::from("1")]);
    }

    #[test]
    fn a_vat_that_never_answers_is_remembered_within_the_bound() {
        let mut receipts = Receipts::new(true, 4);
        for round in 0..100 {
            receipts.register([request(&round.to_string())]);
            receipts.taken(1);
            receipts.finish();
        }
        assert!(receipts.remembered() <= 4, "{}", receipts.remembered());
        assert_eq!(receipts.answer(), to("96"));
    }
}
