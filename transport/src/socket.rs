//! [`QuietTcp`]: a TCP connection whose writes never raise SIGPIPE.
//!
//! Writing to a socket whose peer has reset it raises SIGPIPE, and the
//! default action of SIGPIPE ends the process. Rust and Python programs
//! ignore the signal before `main`, but C, C++ and Go programs that link
//! polyraft keep the default: a peer host that crashes mid-frame would kill
//! them. tokio's plain `write` already sends with `MSG_NOSIGNAL`, but its
//! vectored write is `writev(2)`, which has no such flag, and rustls writes
//! its TLS records vectored. So this wrapper sends vectored writes with
//! `sendmsg(2)` and `MSG_NOSIGNAL` (on Apple systems, where that flag does
//! not exist, the socket is marked `SO_NOSIGPIPE` instead): a reset peer is
//! an `EPIPE` error on that connection, nothing more. It changes no
//! process-wide signal disposition, which belongs to the application.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

// Apple systems have no MSG_NOSIGNAL: their sockets are marked
// SO_NOSIGPIPE instead (QuietTcp::new). Everywhere else the flag does it.
#[cfg(not(target_vendor = "apple"))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(target_vendor = "apple")]
const SEND_FLAGS: libc::c_int = 0;

/// A connected TCP stream whose writes fail with `EPIPE` instead of raising
/// SIGPIPE when the peer is gone. Reads, flushes and shutdown are tokio's.
#[derive(Debug)]
pub(crate) struct QuietTcp(TcpStream);

impl QuietTcp {
    /// Wraps a connected stream (setting `SO_NOSIGPIPE` where the platform
    /// has it instead of `MSG_NOSIGNAL`).
    pub(crate) fn new(tcp: TcpStream) -> io::Result<Self> {
        #[cfg(target_vendor = "apple")]
        SockRef::from(&tcp).set_nosigpipe(true)?;
        Ok(QuietTcp(tcp))
    }
}

impl AsyncRead for QuietTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for QuietTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let tcp = &self.get_mut().0;
        loop {
            ready!(tcp.poll_write_ready(cx))?;
            // try_io clears the readiness on WouldBlock, so the next
            // poll_write_ready registers the waker instead of spinning.
            match tcp.try_io(Interest::WRITABLE, || {
                SockRef::from(tcp).send_vectored_with_flags(bufs, SEND_FLAGS)
            }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                done => return Poll::Ready(done),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}
