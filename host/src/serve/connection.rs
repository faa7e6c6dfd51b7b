//! One connection's life: what it is doing, and when it has been quiet or
//! slow for too long.
//!
//! hyper's own `header_read_timeout` starts as soon as it waits for a
//! request, so it also closes idle keep-alive connections: with 10 s, every
//! connection the API server keeps (its Go client keeps idle ones 90 s)
//! would be closed under it, racing with its next request. Here the two
//! limits are apart: a connection with no request under way is closed
//! gracefully after `idle` (`--idle-timeout-ms`, longer than the client's
//! own, so the client closes first), and one whose next request started
//! arriving (a byte was read) but was not under way within `headers` is
//! dropped (slow or stalled headers).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What one connection is doing.
#[derive(Debug)]
pub struct Activity {
    epoch: Instant,
    /// Requests being answered.
    busy: AtomicU32,
    /// When the first byte of a request not yet under way was read, in ms
    /// since `epoch` plus one; 0: none.
    pending_since: AtomicU64,
    /// When the last request was answered (or the connection opened), in
    /// ms since `epoch`.
    last_done: AtomicU64,
    /// Requests answered.
    served: AtomicU64,
}

/// What [`Activity::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to do.
    Fine,
    /// No request for longer than the idle timeout: close gracefully.
    Idle,
    /// A request's headers did not arrive in time: drop the connection.
    SlowHeaders,
}

impl Activity {
    /// A connection just opened.
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            epoch: Instant::now(),
            busy: AtomicU32::new(0),
            pending_since: AtomicU64::new(0),
            last_done: AtomicU64::new(0),
            served: AtomicU64::new(0),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A request is under way (its headers were read).
    pub fn request_started(&self) {
        self.busy.fetch_add(1, Ordering::SeqCst);
        self.pending_since.store(0, Ordering::SeqCst);
    }

    /// A request was answered.
    pub fn request_done(&self) {
        self.last_done.store(self.now(), Ordering::SeqCst);
        self.served.fetch_add(1, Ordering::SeqCst);
        self.busy.fetch_sub(1, Ordering::SeqCst);
    }

    fn bytes_read(&self) {
        if self.busy.load(Ordering::SeqCst) == 0 && self.pending_since.load(Ordering::SeqCst) == 0 {
            self.pending_since.store(self.now() + 1, Ordering::SeqCst);
        }
    }

    /// Whether a draining server may close the connection now without
    /// losing a request: yes when a request is under way (it is answered,
    /// then the connection closes) or when the connection is idle after
    /// answering; no while a request is arriving; a new connection that
    /// has not sent its first request yet gets `grace` to send it, since
    /// its client opened it to send one.
    pub fn may_close_for_drain(&self, grace: Duration) -> bool {
        if self.busy.load(Ordering::SeqCst) > 0 {
            return true;
        }
        if self.pending_since.load(Ordering::SeqCst) != 0 {
            return false;
        }
        self.served.load(Ordering::SeqCst) > 0 || self.epoch.elapsed() >= grace
    }

    /// Whether the connection has been idle or slow for too long.
    pub fn check(&self, idle: Duration, headers: Duration) -> Verdict {
        if self.busy.load(Ordering::SeqCst) > 0 {
            return Verdict::Fine;
        }
        let now = self.now();
        let since = |ms: u64| Duration::from_millis(now.saturating_sub(ms));
        match self.pending_since.load(Ordering::SeqCst) {
            0 if since(self.last_done.load(Ordering::SeqCst)) >= idle => Verdict::Idle,
            0 => Verdict::Fine,
            pending if since(pending - 1) >= headers => Verdict::SlowHeaders,
            _ => Verdict::Fine,
        }
    }
}

/// Marks a request under way for as long as it lives.
pub struct RequestGuard(Arc<Activity>);

impl RequestGuard {
    /// A request on the connection of `activity` starts.
    pub fn start(activity: &Arc<Activity>) -> RequestGuard {
        activity.request_started();
        RequestGuard(Arc::clone(activity))
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.request_done();
    }
}

/// A stream that tells its [`Activity`] when bytes arrive.
pub struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    /// `inner`, reporting to `activity`.
    pub fn new(inner: S, activity: Arc<Activity>) -> Watched<S> {
        Watched { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_and_slow_headers_are_told_apart() {
        let activity = Activity::new();
        let long = Duration::from_secs(60);
        assert_eq!(activity.check(long, long), Verdict::Fine);
        assert_eq!(activity.check(Duration::ZERO, long), Verdict::Idle);
        activity.bytes_read();
        assert_eq!(activity.check(Duration::ZERO, long), Verdict::Fine);
        assert_eq!(activity.check(long, Duration::ZERO), Verdict::SlowHeaders);
        let request = RequestGuard::start(&activity);
        activity.bytes_read(); // the body: not a new request
        assert_eq!(
            activity.check(Duration::ZERO, Duration::ZERO),
            Verdict::Fine
        );
        drop(request);
        assert_eq!(activity.check(long, Duration::ZERO), Verdict::Fine);
        assert_eq!(activity.check(Duration::ZERO, long), Verdict::Idle);
    }

    #[test]
    fn a_drain_waits_for_arriving_and_first_requests_only() {
        let activity = Activity::new();
        let long = Duration::from_secs(60);
        assert!(
            !activity.may_close_for_drain(long),
            "new: its first request may come"
        );
        assert!(
            activity.may_close_for_drain(Duration::ZERO),
            "new for too long"
        );
        activity.bytes_read();
        assert!(
            !activity.may_close_for_drain(Duration::ZERO),
            "a request arriving"
        );
        let request = RequestGuard::start(&activity);
        assert!(
            activity.may_close_for_drain(long),
            "under way: answered, then closed"
        );
        drop(request);
        assert!(activity.may_close_for_drain(long), "idle after an answer");
    }
}
