// Tapline's libpcap binding: live capture on a thread of its own, packets handed to
// JavaScript in batches (bare pcap records, host byte order), filter compilation for
// offline matching, and the interface list.
//
// Why batches: one N-API call costs about a microsecond; at a few hundred thousand
// packets per second, one call per packet would spend the main thread on the crossing
// alone. A batch of up to `batchBytes` costs one call and one memcpy.
//
// Threads and lifetimes (the part that must never corrupt the heap):
// - Each open capture is a Session, shared (std::shared_ptr) by the JS object, the
//   capture thread and the ThreadSafeFunction's finalizer, so whichever lets go last
//   frees it.
// - The capture thread owns the pcap_t after activation: it alone reads packets,
//   reads pcap_stats and closes the handle.
// - Batches come from a fixed pool (bounded memory). The thread fills one and posts it
//   through the ThreadSafeFunction; the JS-side callback copies it into an ArrayBuffer
//   (one JavaScript gives back, or a new one), and the batch goes back to the pool when
//   JS calls ack() after it has processed that copy (not when the copy is made). When
//   JS is slower than the wire, the pool runs dry, the thread waits, the kernel ring
//   fills and the kernel counts the drops (ps_drop) -- memory never grows.
// - Why the pool waits for ack(): Node runs queued ThreadSafeFunction calls back to
//   back, up to 1000 per event-loop turn, and keeps going while calls are posted
//   during them. If batches went back to the pool at the copy, a consumer slower than
//   the wire would always find the next batch queued and starve the event loop for
//   seconds (an API on the same thread stopped answering under a SYN flood). The JS
//   wrapper acks from setImmediate, after I/O has had its turn.
// - Every ThreadSafeFunction call happens under `tsfnMutex` and only while
//   `tsfnAlive`: the finalizer clears it under the same lock, so the thread never
//   touches a ThreadSafeFunction that Node has torn down (process exit).
// - An environment cleanup hook stops and joins the thread when Node exits without
//   stop(), so no thread outlives the process's static destructors.

#include <napi.h>
#include <pcap/pcap.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

uint64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
}

// DLT_ values are what a live handle reports; LINKTYPE_ values are what capture files
// (and Tapline's decoder) use. They differ for a few historical types; on Linux only
// these two can come from a live interface.
int DltToLinkType(int dlt) {
  if (dlt == DLT_RAW) return 101;            // LINKTYPE_RAW
  if (dlt == DLT_ATM_RFC1483) return 100;    // LINKTYPE_ATM_RFC1483
  return dlt;
}

int LinkTypeToDlt(int linkType) {
  if (linkType == 101) return DLT_RAW;
  if (linkType == 100) return DLT_ATM_RFC1483;
  return linkType;
}

Napi::Error CodedError(Napi::Env env, const std::string& code, const std::string& message, int pcapStatus = 0) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  if (pcapStatus != 0) err.Set("pcapStatus", Napi::Number::New(env, pcapStatus));
  return err;
}

// Enters another network namespace on the calling thread for the lifetime of the
// guard, then returns. setns(CLONE_NEWNET) changes only this thread, and a packet
// socket stays bound to the namespace it was made in, so a capture opened inside
// the guard keeps capturing there after the thread has come back.
class NetnsGuard {
 public:
  NetnsGuard(Napi::Env env, const std::string& path) {
    if (path.empty()) return;
    orig_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (orig_ < 0) throw CodedError(env, "capture.netns_failed", std::string("cannot open this thread's network namespace: ") + strerror(errno));
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      close(orig_);
      orig_ = -1;
      throw CodedError(env, "capture.netns_failed", "cannot open network namespace " + path + ": " + strerror(e));
    }
    if (setns(fd, CLONE_NEWNET) != 0) {
      int e = errno;
      close(fd);
      close(orig_);
      orig_ = -1;
      throw CodedError(env, e == EPERM ? "capture.permission_denied" : "capture.netns_failed",
                       "cannot enter network namespace " + path + ": " + strerror(e) +
                           (e == EPERM ? " (entering a namespace needs CAP_SYS_ADMIN)" : ""));
    }
    close(fd);
  }
  ~NetnsGuard() {
    if (orig_ < 0) return;
    // Coming back cannot fail for a namespace we were in a moment ago; if it ever did,
    // the main thread would silently live in the wrong namespace, which is worse than dying.
    if (setns(orig_, CLONE_NEWNET) != 0) abort();
    close(orig_);
  }
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

 private:
  int orig_ = -1;
};

// ---------------------------------------------------------------------------
// Live capture

struct Batch {
  std::unique_ptr<uint8_t[]> data;
  size_t cap = 0;
  size_t len = 0;
  uint32_t packets = 0;
  uint64_t deadlineMs = 0;
};

enum class ItemKind { kBatch, kError, kDone };

struct Item {
  ItemKind kind;
  Batch* batch = nullptr;
  std::string code;
  std::string message;
};

struct Session;
void CallJs(Napi::Env env, Napi::Function cb, Session* session, Item* item);
using Tsfn = Napi::TypedThreadSafeFunction<Session, Item, CallJs>;

struct Options {
  std::string device;
  std::string netns;
  std::string filter;
  int snaplen = 262144;
  int bufferBytes = 32 << 20;
  bool promiscuous = true;
  int timeoutMs = 50;
  bool immediate = false;
  size_t batchBytes = 1 << 20;
  int batchPool = 4;
  int flushMs = 50;
  int statsIntervalMs = 1000;
  int drainMaxMs = 1000;
};

struct Session {
  Options opts;
  pcap_t* handle = nullptr;
  int linkType = 0;
  bool nanos = false;
  std::string warning;
  int wakeFd = -1;

  std::thread thread;
  std::atomic<bool> stopping{false};
  // Set only when Node is going away: skip the drain, give up waiting for buffers.
  std::atomic<bool> aborting{false};
  bool cleanupHookAdded = false;
  napi_env env = nullptr;

  std::mutex tsfnMutex;
  bool tsfnAlive = false;
  Tsfn tsfn;

  std::mutex poolMutex;
  std::condition_variable poolCv;
  std::vector<Batch*> freeBatches;
  std::deque<Batch*> handed;  // copied to JS, back to the pool at ack(), oldest first
  std::vector<std::unique_ptr<Batch>> allBatches;
  Batch* cur = nullptr;  // capture thread only

  // Counters: written by the capture thread, read by stats() on the main thread.
  std::atomic<uint64_t> received{0};          // pcap_stats ps_recv
  std::atomic<uint64_t> droppedByKernel{0};   // ps_drop
  std::atomic<uint64_t> droppedByInterface{0};// ps_ifdrop
  std::atomic<uint64_t> captured{0};          // packets put into batches
  std::atomic<uint64_t> capturedBytes{0};     // their caplen sum
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> stalls{0};            // times the thread waited for a free batch
  std::atomic<uint64_t> oversize{0};          // records larger than a batch (never expected)
  std::atomic<uint64_t> discarded{0};         // packets lost because Node was exiting
  std::atomic<uint64_t> statsAtMs{0};
  std::atomic<bool> running{false};

  ~Session() {
    // The last owner may be the capture thread itself (the JS side let go first).
    if (thread.joinable()) {
      if (thread.get_id() == std::this_thread::get_id()) thread.detach();
      else thread.join();
    }
    if (handle) pcap_close(handle);
    if (wakeFd >= 0) close(wakeFd);
  }

  Batch* Acquire() {
    std::unique_lock<std::mutex> lock(poolMutex);
    if (freeBatches.empty()) {
      stalls.fetch_add(1, std::memory_order_relaxed);
      poolCv.wait(lock, [this] { return !freeBatches.empty() || aborting.load(); });
      if (freeBatches.empty()) return nullptr;
    }
    Batch* b = freeBatches.back();
    freeBatches.pop_back();
    return b;
  }

  void Release(Batch* b) {
    {
      std::lock_guard<std::mutex> lock(poolMutex);
      b->len = 0;
      b->packets = 0;
      freeBatches.push_back(b);
    }
    poolCv.notify_one();
  }

  // The batch was copied to JS: it stays out of the pool until JS acks it.
  void Hand(Batch* b) {
    std::lock_guard<std::mutex> lock(poolMutex);
    handed.push_back(b);
  }

  // JS has processed the oldest handed batch.
  void Ack() {
    Batch* b = nullptr;
    {
      std::lock_guard<std::mutex> lock(poolMutex);
      if (handed.empty()) return;
      b = handed.front();
      handed.pop_front();
    }
    Release(b);
  }

  // Hands an item to the JS thread; false when the ThreadSafeFunction is gone.
  bool Post(Item* item) {
    std::lock_guard<std::mutex> lock(tsfnMutex);
    if (!tsfnAlive) return false;
    return tsfn.NonBlockingCall(item) == napi_ok;
  }

  void Submit() {
    Batch* b = cur;
    cur = nullptr;
    if (!b) return;
    if (b->len == 0) {
      Release(b);
      return;
    }
    batches.fetch_add(1, std::memory_order_relaxed);
    Item* item = new Item{ItemKind::kBatch, b, {}, {}};
    if (!Post(item)) {
      discarded.fetch_add(b->packets, std::memory_order_relaxed);
      Release(b);
      delete item;
    }
  }

  static void OnPacket(u_char* user, const struct pcap_pkthdr* h, const u_char* bytes) {
    Session* s = reinterpret_cast<Session*>(user);
    const size_t need = 16 + static_cast<size_t>(h->caplen);
    if (s->cur && s->cur->len + need > s->cur->cap) s->Submit();
    if (!s->cur) {
      s->cur = s->Acquire();
      if (!s->cur) {
        s->discarded.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      s->cur->deadlineMs = NowMs() + static_cast<uint64_t>(s->opts.flushMs);
    }
    Batch* b = s->cur;
    if (need > b->cap) {
      s->oversize.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // pcap record header (host byte order): ts_sec, ts_usec or ts_nsec, incl_len, orig_len.
    uint32_t hdr[4] = {static_cast<uint32_t>(h->ts.tv_sec), static_cast<uint32_t>(h->ts.tv_usec), h->caplen, h->len};
    memcpy(b->data.get() + b->len, hdr, sizeof hdr);
    memcpy(b->data.get() + b->len + 16, bytes, h->caplen);
    b->len += need;
    b->packets++;
    s->captured.fetch_add(1, std::memory_order_relaxed);
    s->capturedBytes.fetch_add(h->caplen, std::memory_order_relaxed);
  }

  void ReadStats() {
    struct pcap_stat ps;
    if (pcap_stats(handle, &ps) == 0) {
      received.store(ps.ps_recv, std::memory_order_relaxed);
      droppedByKernel.store(ps.ps_drop, std::memory_order_relaxed);
      droppedByInterface.store(ps.ps_ifdrop, std::memory_order_relaxed);
      statsAtMs.store(NowMs(), std::memory_order_relaxed);
    }
  }

  void PostError(const std::string& code, const std::string& message) {
    Item* item = new Item{ItemKind::kError, nullptr, code, message};
    if (!Post(item)) delete item;
  }

  // pcap_dispatch over everything ready; false on a fatal error (already posted).
  bool Dispatch() {
    int n = pcap_dispatch(handle, -1, &Session::OnPacket, reinterpret_cast<u_char*>(this));
    if (n == PCAP_ERROR) {
      PostError("capture.read_failed", std::string("capture on ") + opts.device + " failed: " + pcap_geterr(handle));
      return false;
    }
    return true;
  }

  void Run() {
    // As `top -H` shows it (Node names every thread "node"; see src/common/thread-name.ts).
    pthread_setname_np(pthread_self(), "tl-pcap");
    const int pfd = pcap_get_selectable_fd(handle);
    struct pollfd fds[2];
    fds[0] = {pfd, POLLIN, 0};
    fds[1] = {wakeFd, POLLIN, 0};
    uint64_t nextStats = NowMs() + static_cast<uint64_t>(opts.statsIntervalMs);
    bool ok = true;
    while (!stopping.load()) {
      uint64_t now = NowMs();
      int timeout = opts.flushMs;
      if (cur && cur->len > 0) timeout = cur->deadlineMs > now ? static_cast<int>(cur->deadlineMs - now) : 0;
      int r = poll(fds, 2, timeout);
      if (r < 0 && errno != EINTR) {
        PostError("capture.read_failed", std::string("poll on ") + opts.device + " failed: " + strerror(errno));
        ok = false;
        break;
      }
      if (r > 0 && fds[0].revents != 0 && !Dispatch()) {
        ok = false;
        break;
      }
      now = NowMs();
      if (cur && cur->len > 0 && now >= cur->deadlineMs) Submit();
      if (now >= nextStats) {
        ReadStats();
        nextStats = now + static_cast<uint64_t>(opts.statsIntervalMs);
      }
    }
    if (ok && !aborting.load()) Drain(pfd);
    Submit();
    ReadStats();
    running.store(false);
    Item* done = new Item{ItemKind::kDone, nullptr, {}, {}};
    if (!Post(done)) delete done;
    std::lock_guard<std::mutex> lock(tsfnMutex);
    if (tsfnAlive) tsfn.Release();
  }

  // After stop(): read what the kernel already holds, so a stop right after the
  // traffic ends loses nothing. In block mode (TPACKET_V3) the last block reaches
  // user space only when its timeout retires it, hence the quiet period of one
  // timeout; the whole drain is bounded by drainMaxMs.
  void Drain(int pfd) {
    const uint64_t deadline = NowMs() + static_cast<uint64_t>(opts.drainMaxMs);
    const int quietMs = (opts.immediate ? 0 : opts.timeoutMs) + 20;
    struct pollfd fd = {pfd, POLLIN, 0};
    while (!aborting.load()) {
      uint64_t now = NowMs();
      if (now >= deadline) break;
      int wait = static_cast<int>(deadline - now);
      if (wait > quietMs) wait = quietMs;
      int r = poll(&fd, 1, wait);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      uint64_t before = captured.load();
      if (!Dispatch()) break;
      if (captured.load() == before && (fd.revents & (POLLERR | POLLHUP | POLLNVAL))) break;
    }
  }

  // Node is exiting: stop now and wait for the thread (it never blocks for long).
  void Abort() {
    aborting.store(true);
    stopping.store(true);
    poolCv.notify_all();
    Wake();
    if (thread.joinable()) thread.join();
  }

  void Wake() {
    uint64_t one = 1;
    if (wakeFd >= 0) {
      ssize_t w = write(wakeFd, &one, sizeof one);
      (void)w;
    }
  }
};

void CleanupHook(void* arg) {
  Session* s = static_cast<Session*>(arg);
  s->cleanupHookAdded = false;
  s->Abort();
}

void CallJs(Napi::Env env, Napi::Function cb, Session* s, Item* item) {
  std::unique_ptr<Item> owned(item);
  if (env == nullptr || cb == nullptr) {
    // The environment is being torn down: nothing to call, only memory to give back.
    if (item->batch) s->Release(item->batch);
    return;
  }
  switch (item->kind) {
    case ItemKind::kBatch: {
      Batch* b = item->batch;
      const size_t len = b->len;
      const uint32_t packets = b->packets;
      // JavaScript is asked first for a buffer it is done with (kind 3): filling one again
      // touches no fresh memory, where a new buffer costs a page fault per 4 KiB on the way
      // in and a free on the way out. Else a new one of the batch's full capacity, so that
      // it can take any later batch.
      Napi::ArrayBuffer ab;
      try {
        Napi::Value spare = cb.Call({Napi::Number::New(env, 3), Napi::Number::New(env, static_cast<double>(len))});
        if (spare.IsArrayBuffer() && spare.As<Napi::ArrayBuffer>().ByteLength() >= len) ab = spare.As<Napi::ArrayBuffer>();
      } catch (const Napi::Error&) {
        // Not given one (the exception is cleared): a new buffer, and the batch is not lost.
      }
      if (ab.IsEmpty()) ab = Napi::ArrayBuffer::New(env, b->cap);
      memcpy(ab.Data(), b->data.get(), len);
      s->Hand(b);
      cb.Call({Napi::Number::New(env, 0), ab, Napi::Number::New(env, packets), Napi::Number::New(env, static_cast<double>(len))});
      break;
    }
    case ItemKind::kError:
      cb.Call({Napi::Number::New(env, 1), Napi::String::New(env, item->message), Napi::String::New(env, item->code)});
      break;
    case ItemKind::kDone:
      // The thread posts this last and only releases the function afterwards: the join is short.
      if (s->thread.joinable()) s->thread.join();
      if (s->cleanupHookAdded) {
        napi_remove_env_cleanup_hook(env, CleanupHook, s);
        s->cleanupHookAdded = false;
      }
      cb.Call({Napi::Number::New(env, 2)});
      break;
  }
}

void FinalizeTsfn(Napi::Env, std::shared_ptr<Session>* holder, Session*) {
  Session* s = holder->get();
  {
    std::lock_guard<std::mutex> lock(s->tsfnMutex);
    s->tsfnAlive = false;
  }
  delete holder;
}

int IntOpt(const Napi::Object& o, const char* key, int def, int min, int max) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (!v.IsNumber()) throw CodedError(o.Env(), "capture.bad_option", std::string(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || d != static_cast<double>(static_cast<int64_t>(d)))
    throw CodedError(o.Env(), "capture.bad_option", std::string(key) + " must be an integer in " + std::to_string(min) + ".." + std::to_string(max));
  return static_cast<int>(d);
}

bool BoolOpt(const Napi::Object& o, const char* key, bool def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  return v.ToBoolean().Value();
}

std::string StrOpt(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return "";
  return v.ToString().Utf8Value();
}

const char* ActivateErrorCode(int status) {
  switch (status) {
    case PCAP_ERROR_PERM_DENIED:
    case PCAP_ERROR_PROMISC_PERM_DENIED:
      return "capture.permission_denied";
    case PCAP_ERROR_NO_SUCH_DEVICE:
      return "capture.no_such_interface";
    case PCAP_ERROR_IFACE_NOT_UP:
      return "capture.interface_down";
    default:
      return "capture.open_failed";
  }
}

class LiveCapture : public Napi::ObjectWrap<LiveCapture> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "LiveCapture",
                       {InstanceMethod<&LiveCapture::Stop>("stop"), InstanceMethod<&LiveCapture::Stats>("stats"),
                        InstanceMethod<&LiveCapture::Ack>("ack"),
                        InstanceAccessor<&LiveCapture::LinkType>("linkType"),
                        InstanceAccessor<&LiveCapture::TsResolution>("tsResolution"),
                        InstanceAccessor<&LiveCapture::Warning>("warning"),
                        InstanceAccessor<&LiveCapture::Snaplen>("snaplen")});
  }

  // new LiveCapture(options, callback(kind, value, extra))
  explicit LiveCapture(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LiveCapture>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
      throw Napi::TypeError::New(env, "LiveCapture(options, callback)");
    Napi::Object o = info[0].As<Napi::Object>();
    auto s = std::make_shared<Session>();
    Options& opts = s->opts;
    opts.device = StrOpt(o, "device");
    if (opts.device.empty()) throw CodedError(env, "capture.bad_option", "device must be a non-empty string");
    opts.netns = StrOpt(o, "netns");
    opts.filter = StrOpt(o, "filter");
    opts.snaplen = IntOpt(o, "snaplen", opts.snaplen, 64, 262144);
    opts.bufferBytes = IntOpt(o, "bufferBytes", opts.bufferBytes, 65536, 1 << 30);
    opts.promiscuous = BoolOpt(o, "promiscuous", opts.promiscuous);
    opts.timeoutMs = IntOpt(o, "timeoutMs", opts.timeoutMs, 1, 10000);
    opts.immediate = BoolOpt(o, "immediate", opts.immediate);
    opts.batchBytes = static_cast<size_t>(IntOpt(o, "batchBytes", static_cast<int>(opts.batchBytes), 4096, 64 << 20));
    opts.batchPool = IntOpt(o, "batchPool", opts.batchPool, 2, 1024);
    opts.flushMs = IntOpt(o, "flushMs", opts.flushMs, 1, 10000);
    opts.statsIntervalMs = IntOpt(o, "statsIntervalMs", opts.statsIntervalMs, 10, 3600000);
    opts.drainMaxMs = IntOpt(o, "drainMaxMs", opts.drainMaxMs, 0, 60000);

    Activate(env, *s);

    // A batch always holds at least one whole record.
    const size_t cap = std::max(opts.batchBytes, static_cast<size_t>(opts.snaplen) + 16);
    for (int i = 0; i < opts.batchPool; i++) {
      auto b = std::make_unique<Batch>();
      b->data.reset(new uint8_t[cap]);
      b->cap = cap;
      s->freeBatches.push_back(b.get());
      s->allBatches.push_back(std::move(b));
    }
    s->wakeFd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->wakeFd < 0) throw CodedError(env, "capture.open_failed", std::string("eventfd: ") + strerror(errno));

    auto* holder = new std::shared_ptr<Session>(s);
    s->tsfn = Tsfn::New(env, info[1].As<Napi::Function>(), Napi::Object::New(env), "tapline.pcap", 0, 1, s.get(), FinalizeTsfn, holder);
    s->tsfnAlive = true;
    s->env = env;
    // Registered after the function, so it runs before the function's own cleanup at exit.
    if (napi_add_env_cleanup_hook(env, CleanupHook, s.get()) == napi_ok) s->cleanupHookAdded = true;
    s->running.store(true);
    std::shared_ptr<Session> forThread = s;
    s->thread = std::thread([forThread] { forThread->Run(); });
    session_ = s;
  }

  ~LiveCapture() override {
    // Dropped by JS while running: the thread and the function keep the session alive,
    // and the cleanup hook joins it at exit; ask it to stop so the capture ends.
    if (session_ && session_->running.load()) {
      session_->stopping.store(true);
      session_->Wake();
    }
  }

 private:
  static void Activate(Napi::Env env, Session& s) {
    Options& opts = s.opts;
    NetnsGuard ns(env, opts.netns);
    char err[PCAP_ERRBUF_SIZE] = {0};
    pcap_t* p = pcap_create(opts.device.c_str(), err);
    if (!p) throw CodedError(env, "capture.open_failed", std::string("cannot open ") + opts.device + ": " + err);
    pcap_set_snaplen(p, opts.snaplen);
    pcap_set_promisc(p, opts.promiscuous ? 1 : 0);
    pcap_set_timeout(p, opts.timeoutMs);
    pcap_set_buffer_size(p, opts.bufferBytes);
    pcap_set_immediate_mode(p, opts.immediate ? 1 : 0);
    // Nanoseconds when the kernel gives them; libpcap falls back to microseconds otherwise.
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
    int st = pcap_activate(p);
    if (st < 0) {
      std::string msg = pcap_geterr(p);
      if (msg.empty()) msg = pcap_statustostr(st);
      pcap_close(p);
      throw CodedError(env, ActivateErrorCode(st), "cannot capture on " + opts.device + ": " + msg, st);
    }
    if (st > 0) s.warning = std::string(pcap_statustostr(st)) + ": " + pcap_geterr(p);
    if (opts.device == "any") {
      // SLL2 carries the interface index, so packets from different interfaces stay apart.
      int* dlts = nullptr;
      int n = pcap_list_datalinks(p, &dlts);
      for (int i = 0; i < n; i++) {
        if (dlts[i] == DLT_LINUX_SLL2) {
          pcap_set_datalink(p, DLT_LINUX_SLL2);
          break;
        }
      }
      if (dlts) pcap_free_datalinks(dlts);
    }
    if (!opts.filter.empty()) {
      bpf_u_int32 net = 0, mask = PCAP_NETMASK_UNKNOWN;
      if (pcap_lookupnet(opts.device.c_str(), &net, &mask, err) != 0) mask = PCAP_NETMASK_UNKNOWN;
      struct bpf_program prog;
      if (pcap_compile(p, &prog, opts.filter.c_str(), 1, mask) != 0) {
        std::string msg = pcap_geterr(p);
        pcap_close(p);
        throw CodedError(env, "capture.bad_filter", "bad capture filter '" + opts.filter + "': " + msg);
      }
      int fs = pcap_setfilter(p, &prog);
      pcap_freecode(&prog);
      if (fs != 0) {
        std::string msg = pcap_geterr(p);
        pcap_close(p);
        throw CodedError(env, "capture.open_failed", "cannot set the capture filter on " + opts.device + ": " + msg);
      }
    }
    if (pcap_setnonblock(p, 1, err) != 0) {
      pcap_close(p);
      throw CodedError(env, "capture.open_failed", std::string("cannot make ") + opts.device + " non-blocking: " + err);
    }
    s.handle = p;
    s.linkType = DltToLinkType(pcap_datalink(p));
    s.nanos = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    session_->stopping.store(true);
    session_->Wake();
    return info.Env().Undefined();
  }

  Napi::Value Ack(const Napi::CallbackInfo& info) {
    session_->Ack();
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Session& s = *session_;
    Napi::Object o = Napi::Object::New(env);
    auto num = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
    num("received", s.received.load());
    num("droppedByKernel", s.droppedByKernel.load());
    num("droppedByInterface", s.droppedByInterface.load());
    num("captured", s.captured.load());
    num("capturedBytes", s.capturedBytes.load());
    num("batches", s.batches.load());
    num("stalls", s.stalls.load());
    num("oversize", s.oversize.load());
    num("discarded", s.discarded.load());
    uint64_t at = s.statsAtMs.load();
    o.Set("statsAgeMs", at == 0 ? env.Null() : Napi::Number::New(env, static_cast<double>(NowMs() - at)));
    o.Set("running", Napi::Boolean::New(env, s.running.load()));
    return o;
  }

  Napi::Value LinkType(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), session_->linkType); }
  Napi::Value TsResolution(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), session_->nanos ? "ns" : "us"); }
  Napi::Value Snaplen(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), session_->opts.snaplen); }
  Napi::Value Warning(const Napi::CallbackInfo& info) {
    if (session_->warning.empty()) return info.Env().Null();
    return Napi::String::New(info.Env(), session_->warning);
  }

  std::shared_ptr<Session> session_;
};

// ---------------------------------------------------------------------------
// Offline filter

class CompiledFilter : public Napi::ObjectWrap<CompiledFilter> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "CompiledFilter",
                       {InstanceMethod<&CompiledFilter::Matches>("matches"),
                        InstanceAccessor<&CompiledFilter::Instructions>("instructions")});
  }

  // new CompiledFilter(expression, linkType, snaplen)
  explicit CompiledFilter(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CompiledFilter>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber())
      throw Napi::TypeError::New(env, "CompiledFilter(expression, linkType, snaplen)");
    std::string expr = info[0].As<Napi::String>().Utf8Value();
    int linkType = info[1].As<Napi::Number>().Int32Value();
    int snaplen = info[2].As<Napi::Number>().Int32Value();
    pcap_t* dead = pcap_open_dead(LinkTypeToDlt(linkType), snaplen > 0 ? snaplen : 262144);
    if (!dead) throw CodedError(env, "capture.bad_filter", "cannot compile filters for link type " + std::to_string(linkType));
    if (pcap_compile(dead, &prog_, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      std::string msg = pcap_geterr(dead);
      pcap_close(dead);
      throw CodedError(env, "capture.bad_filter", "bad capture filter '" + expr + "': " + msg);
    }
    pcap_close(dead);
    compiled_ = true;
  }

  ~CompiledFilter() override {
    if (compiled_) pcap_freecode(&prog_);
  }

 private:
  // matches(packet: Buffer, origLen?: number): boolean
  Napi::Value Matches(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "matches(packet: Buffer, origLen?: number)");
    Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    h.caplen = static_cast<bpf_u_int32>(a.ByteLength());
    h.len = h.caplen;
    if (info.Length() > 1 && info[1].IsNumber()) {
      uint32_t orig = info[1].As<Napi::Number>().Uint32Value();
      if (orig > h.caplen) h.len = orig;
    }
    return Napi::Boolean::New(env, pcap_offline_filter(&prog_, &h, a.Data()) != 0);
  }

  Napi::Value Instructions(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), prog_.bf_len); }

  struct bpf_program prog_ {};
  bool compiled_ = false;
};

// ---------------------------------------------------------------------------
// Interfaces

Napi::Value SockaddrToValue(Napi::Env env, const struct sockaddr* sa) {
  if (!sa) return env.Null();
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const struct sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
    return Napi::String::New(env, buf);
  }
  if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const struct sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
    return Napi::String::New(env, buf);
  }
  if (sa->sa_family == AF_PACKET) {
    const struct sockaddr_ll* ll = reinterpret_cast<const struct sockaddr_ll*>(sa);
    std::string mac;
    for (int i = 0; i < ll->sll_halen && i < 8; i++) {
      char part[4];
      snprintf(part, sizeof part, i == 0 ? "%02x" : ":%02x", ll->sll_addr[i]);
      mac += part;
    }
    return Napi::String::New(env, mac);
  }
  return env.Null();
}

const char* FamilyName(const struct sockaddr* sa) {
  if (!sa) return "unknown";
  switch (sa->sa_family) {
    case AF_INET: return "inet";
    case AF_INET6: return "inet6";
    case AF_PACKET: return "link";
    default: return "unknown";
  }
}

// listInterfaces(netns?: string)
Napi::Value ListInterfaces(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string netns = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  pcap_if_t* all = nullptr;
  char err[PCAP_ERRBUF_SIZE] = {0};
  int st;
  {
    NetnsGuard ns(env, netns);
    st = pcap_findalldevs(&all, err);
  }
  if (st != 0) throw CodedError(env, "capture.list_failed", std::string("cannot list interfaces: ") + err);
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (pcap_if_t* d = all; d; d = d->next) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", d->name);
    o.Set("description", d->description ? Napi::Value(Napi::String::New(env, d->description)) : env.Null());
    Napi::Array addrs = Napi::Array::New(env);
    uint32_t j = 0;
    for (pcap_addr_t* a = d->addresses; a; a = a->next) {
      if (!a->addr) continue;
      Napi::Object ao = Napi::Object::New(env);
      ao.Set("family", FamilyName(a->addr));
      ao.Set("addr", SockaddrToValue(env, a->addr));
      ao.Set("netmask", SockaddrToValue(env, a->netmask));
      ao.Set("broadaddr", SockaddrToValue(env, a->broadaddr));
      ao.Set("dstaddr", SockaddrToValue(env, a->dstaddr));
      addrs.Set(j++, ao);
    }
    o.Set("addresses", addrs);
    o.Set("flags", Napi::Number::New(env, d->flags));
    out.Set(i++, o);
  }
  pcap_freealldevs(all);
  return out;
}

Napi::Value Version(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), pcap_lib_version()); }

}  // namespace

// direct_file.cc
void InitDirectFile(Napi::Env env, Napi::Object exports);

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("LiveCapture", LiveCapture::Init(env));
  exports.Set("CompiledFilter", CompiledFilter::Init(env));
  exports.Set("listInterfaces", Napi::Function::New(env, ListInterfaces));
  exports.Set("version", Napi::Function::New(env, Version));
  InitDirectFile(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(pcap_binding, Init)
