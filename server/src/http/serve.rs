//! The accept loop: hyper (HTTP/1.1 and HTTP/2) with a small read buffer
//! per connection, time limits on idle and slow connections, a cap on
//! how many are open, and a graceful stop.
//!
//! `axum::serve` keeps hyper's default read buffer, which grows to about
//! 400 KiB on a connection that streams a large body and stays that size
//! while the connection is kept alive. Upload clients hold connections
//! open between parts, so with hundreds of them that buffer alone was most
//! of the process's memory; 64 KiB reads cost nothing measurable.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::Router;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpListener,
    sync::Semaphore,
    time::Sleep,
};

/// How connections are held to account.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// HTTP/1: longest wait for a request's headers once the connection
    /// waits for one, which is also how long a kept-alive connection may
    /// sit idle between requests.
    pub header_read_timeout: Duration,
    /// HTTP/2: how often an idle connection is pinged; one that does not
    /// answer within the same time is closed.
    pub http2_keep_alive: Duration,
    /// Connections open at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Once a stop is asked for: how long requests in flight (a part
    /// still arriving) get to finish before the process exits anyway.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(30),
            http2_keep_alive: Duration::from_secs(20),
            max_connections: 4096,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Largest read buffer a connection keeps.
pub const READ_BUFFER: usize = 64 * 1024;

/// Serves `app` on `listener` until `stop` completes, then stops
/// accepting and lets open connections finish the requests they are in
/// (for at most `limits.shutdown_grace`); idle ones close at once.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(READ_BUFFER)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.http2_keep_alive)
        .keep_alive_timeout(limits.http2_keep_alive);
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(stop);
    loop {
        // A connection is accepted only when there is room for it.
        let permit = tokio::select! {
            permit = open.clone().acquire_owned() => permit.expect("never closed"),
            () = &mut stop => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off, go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let stream = FirstBytes::new(stream, limits.header_read_timeout);
        let service = TowerToHyperService::new(app.clone());
        let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("requests still in flight after --shutdown-grace; exiting anyway")
        }
    }
}

/// A connection whose first bytes must arrive in time. hyper's header
/// timeout starts once the protocol is known, but telling HTTP/1 from
/// HTTP/2 waits for the first bytes with no clock at all, so a client
/// that connects and sends nothing (or a few bytes) would hold its
/// connection for ever. Until `FIRST_BYTES` have arrived, a read past
/// the deadline fails and the connection closes.
struct FirstBytes<S> {
    inner: S,
    deadline: Option<Pin<Box<Sleep>>>,
    left: usize,
}

/// As many bytes as the HTTP/2 preface, which is all the sniffing reads.
const FIRST_BYTES: usize = 24;

impl<S> FirstBytes<S> {
    fn new(inner: S, within: Duration) -> FirstBytes<S> {
        FirstBytes {
            inner,
            deadline: Some(Box::pin(tokio::time::sleep(within))),
            left: FIRST_BYTES,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FirstBytes<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(read) => {
                let got = buf.filled().len() - before;
                this.left = this.left.saturating_sub(got);
                if this.left == 0 || got == 0 {
                    this.deadline = None;
                }
                Poll::Ready(read)
            }
            Poll::Pending => {
                let late = this.deadline.as_mut().is_some_and(|d| d.as_mut().poll(cx).is_ready());
                if late {
                    Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "no request in time")))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FirstBytes<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
