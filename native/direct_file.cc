// DirectFile: a file written only by appending, through an aligned buffer of its own and
// with O_DIRECT, so that what Tapline keeps on disk (the packet ring's segments) does not
// pass through the page cache.
//
// Why: a buffered write copies every byte into page-cache pages the kernel has just
// allocated. On a virtual machine whose host takes freed guest memory back (free page
// reporting, as Firecracker does), each such page is first touched inside that copy and
// costs a fault on the host: writing the benchmark capture's 240 MB took 0.48 s of CPU
// that way, 0.04 s into pages still warm, and 0.02 s with O_DIRECT from one reused
// buffer (dd, src/pcap/README.md "Direct writes"). The ring is written once and read
// rarely (exports), so the page cache gains nothing from holding it either.
//
// How: bytes are appended to the buffer; each time it fills, it is written whole at its
// file offset (always a multiple of kAlign) with O_DIRECT. flush() makes every appended
// byte readable: the aligned part of the buffer is written the same way, and the rest
// (less than kAlign bytes) with a buffered write, O_DIRECT switched off for it; those
// bytes stay at the start of the buffer and are written again, in their block, with the
// next direct write (the kernel writes back and drops the cached page first). So the file
// only ever holds appended bytes, and after flush() all of them.
//
// Where O_DIRECT cannot be had (tmpfs, some file systems: open or the first write fails
// with EINVAL), the same writes are made buffered.

#include <napi.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace {

constexpr size_t kAlign = 4096;

void PutLe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

uint32_t GetLe32(const uint8_t* p) { return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24); }

/** An errno as a JavaScript Error with `errno` and `syscall` (src/common/direct-file.ts words it as Node's fs errors). */
Napi::Error ErrnoError(Napi::Env env, int e, const char* syscall) {
  Napi::Error err = Napi::Error::New(env, strerror(e));
  err.Set("errno", Napi::Number::New(env, e));
  err.Set("syscall", Napi::String::New(env, syscall));
  return err;
}

class DirectFile : public Napi::ObjectWrap<DirectFile> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "DirectFile",
                       {
                           InstanceMethod("write", &DirectFile::Write),
                           InstanceMethod("writeEpbs", &DirectFile::WriteEpbs),
                           InstanceMethod("flush", &DirectFile::Flush),
                           InstanceMethod("close", &DirectFile::Close),
                           InstanceAccessor("direct", &DirectFile::Direct, nullptr),
                       });
  }

  // new DirectFile(path, bufferBytes): creates or truncates `path`.
  explicit DirectFile(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DirectFile>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) throw Napi::TypeError::New(env, "new DirectFile(path, bufferBytes)");
    const std::string path = info[0].As<Napi::String>().Utf8Value();
    const int64_t want = info[1].As<Napi::Number>().Int64Value();
    if (want < static_cast<int64_t>(kAlign) || want > (int64_t{1} << 30)) throw Napi::RangeError::New(env, "DirectFile: bufferBytes must be 4096..2^30");
    cap_ = static_cast<size_t>(want) & ~(kAlign - 1);
    fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
    direct_ = fd_ >= 0;
    if (fd_ < 0 && errno == EINVAL) fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw ErrnoError(env, errno, "open");
    void* p = nullptr;
    if (posix_memalign(&p, kAlign, cap_) != 0) {
      close(fd_);
      fd_ = -1;
      throw Napi::Error::New(env, "DirectFile: out of memory for its buffer");
    }
    buf_ = static_cast<uint8_t*>(p);
  }

  ~DirectFile() override {
    if (fd_ >= 0) close(fd_);
    free(buf_);
  }

 private:
  int fd_ = -1;
  bool direct_ = false;
  uint8_t* buf_ = nullptr;
  size_t cap_ = 0;
  // Bytes in buf_, and the file offset of buf_[0] (a multiple of kAlign).
  size_t used_ = 0;
  off_t base_ = 0;

  void Check(Napi::Env env) {
    if (fd_ < 0) throw Napi::Error::New(env, "DirectFile: closed");
  }

  // Writes buf_[0, n) at base_; returns 0 or an errno. A direct write the file system
  // refuses (EINVAL: alignment it does not take) turns O_DIRECT off for good.
  int WriteOut(size_t n, bool buffered) {
    if (buffered && direct_) fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) & ~O_DIRECT);
    size_t done = 0;
    int err = 0;
    while (done < n) {
      const ssize_t w = pwrite(fd_, buf_ + done, n - done, base_ + static_cast<off_t>(done));
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EINVAL && direct_ && !buffered) {
          fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) & ~O_DIRECT);
          direct_ = false;
          continue;
        }
        err = errno;
        break;
      }
      done += static_cast<size_t>(w);
    }
    if (buffered && direct_) fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_DIRECT);
    return err;
  }

  // Writes the aligned part of the buffer and keeps the rest at its start.
  int WriteAligned() {
    const size_t aligned = used_ & ~(kAlign - 1);
    if (aligned == 0) return 0;
    const int err = WriteOut(aligned, false);
    if (err != 0) return err;
    base_ += static_cast<off_t>(aligned);
    used_ -= aligned;
    if (used_ > 0) memmove(buf_, buf_ + aligned, used_);
    return 0;
  }

  // Every appended byte into the file: the aligned part directly, the rest buffered (kept).
  int WriteAll() {
    const int err = WriteAligned();
    return err != 0 || used_ == 0 ? err : WriteOut(used_, true);
  }

  int Append(const uint8_t* p, size_t n) {
    while (n > 0) {
      const size_t k = std::min(cap_ - used_, n);
      memcpy(buf_ + used_, p, k);
      used_ += k;
      p += k;
      n -= k;
      if (used_ == cap_) {
        const int err = WriteAligned();
        if (err != 0) return err;
      }
    }
    return 0;
  }

  // write(bytes, start, end): appends bytes[start, end).
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Check(env);
    if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber()) throw Napi::TypeError::New(env, "write(bytes, start, end)");
    if (info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) throw Napi::TypeError::New(env, "write: bytes must be a Uint8Array");
    Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
    const int64_t start = info[1].As<Napi::Number>().Int64Value();
    const int64_t end = info[2].As<Napi::Number>().Int64Value();
    if (start < 0 || end < start || static_cast<uint64_t>(end) > a.ByteLength()) throw Napi::RangeError::New(env, "write: start..end is not inside the bytes");
    const int err = Append(a.Data() + start, static_cast<size_t>(end - start));
    if (err != 0) throw ErrnoError(env, err, "write");
    return env.Undefined();
  }

  // writeEpbs(batch, start, end, nanos, iface): appends the pcap records of
  // batch[start, end) (16-byte little-endian headers) as Enhanced Packet Blocks of
  // interface `iface` with ns timestamps; returns the bytes appended.
  Napi::Value WriteEpbs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Check(env);
    if (info.Length() < 5 || !info[0].IsBuffer() || !info[1].IsNumber() || !info[2].IsNumber() || !info[4].IsNumber()) throw Napi::TypeError::New(env, "writeEpbs(batch, start, end, nanos, iface)");
    Napi::Buffer<uint8_t> batch = info[0].As<Napi::Buffer<uint8_t>>();
    const int64_t start = info[1].As<Napi::Number>().Int64Value();
    const int64_t end = info[2].As<Napi::Number>().Int64Value();
    const bool nanos = info[3].ToBoolean().Value();
    const uint32_t iface = info[4].As<Napi::Number>().Uint32Value();
    if (start < 0 || end < start || static_cast<uint64_t>(end) > batch.Length()) throw Napi::RangeError::New(env, "writeEpbs: start..end is not inside the batch");
    const uint8_t* data = batch.Data();
    constexpr size_t kHeader = 28;
    uint8_t head[kHeader];
    static const uint8_t kZeros[4] = {0, 0, 0, 0};
    size_t total = 0;
    for (int64_t o = start; o + 16 <= end;) {
      const uint32_t sec = GetLe32(data + o), frac = GetLe32(data + o + 4), capLen = GetLe32(data + o + 8), origLen = GetLe32(data + o + 12);
      if (o + 16 + static_cast<int64_t>(capLen) > end) break;
      const uint32_t padded = (capLen + 3) & ~3u;
      const uint32_t len = static_cast<uint32_t>(kHeader) + padded + 4;
      const uint64_t ns = static_cast<uint64_t>(sec) * 1000000000ULL + (nanos ? frac : static_cast<uint64_t>(frac) * 1000ULL);
      PutLe32(head, 6);  // Enhanced Packet Block
      PutLe32(head + 4, len);
      PutLe32(head + 8, iface);
      PutLe32(head + 12, static_cast<uint32_t>(ns >> 32));
      PutLe32(head + 16, static_cast<uint32_t>(ns));
      PutLe32(head + 20, capLen);
      PutLe32(head + 24, origLen > capLen ? origLen : capLen);
      int err = 0;
      if (cap_ - used_ >= len) {
        // The whole block fits: built in place, without staging the header.
        uint8_t* at = buf_ + used_;
        memcpy(at, head, kHeader);
        memcpy(at + kHeader, data + o + 16, capLen);
        if (padded > capLen) memset(at + kHeader + capLen, 0, padded - capLen);
        PutLe32(at + kHeader + padded, len);
        used_ += len;
        if (used_ == cap_) err = WriteAligned();
      } else {
        uint8_t trailer[4];
        PutLe32(trailer, len);
        err = Append(head, kHeader);
        if (err == 0) err = Append(data + o + 16, capLen);
        if (err == 0 && padded > capLen) err = Append(kZeros, padded - capLen);
        if (err == 0) err = Append(trailer, 4);
      }
      if (err != 0) {
        Napi::Error e = ErrnoError(env, err, "write");
        e.Set("appended", Napi::Number::New(env, static_cast<double>(total)));
        throw e;
      }
      total += len;
      o += 16 + static_cast<int64_t>(capLen);
    }
    return Napi::Number::New(env, static_cast<double>(total));
  }

  // flush(): every appended byte into the file.
  Napi::Value Flush(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Check(env);
    const int err = WriteAll();
    if (err != 0) throw ErrnoError(env, err, "write");
    return env.Undefined();
  }

  // close(): flushes, then closes (also when the flush fails, which it then throws).
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) return env.Undefined();
    int err = WriteAll();
    if (close(fd_) != 0 && err == 0) err = errno;
    fd_ = -1;
    free(buf_);
    buf_ = nullptr;
    if (err != 0) throw ErrnoError(env, err, "write");
    return env.Undefined();
  }

  Napi::Value Direct(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), direct_); }
};

}  // namespace

void InitDirectFile(Napi::Env env, Napi::Object exports) { exports.Set("DirectFile", DirectFile::Init(env)); }
