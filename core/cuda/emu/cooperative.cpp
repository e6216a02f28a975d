// The emulated cooperative launch of cuda_emu.h: a block's threads as fibers on the
// calling thread, a round-robin scheduler, and the one synchronisation the kernels use,
// the warp exchange behind __shfl_sync / __shfl_xor_sync.
//
// A fiber switch is a few instructions of assembly (below): ucontext's swapcontext makes a
// signal-mask system call on every switch, and a shuffle costs 64 switches, which made the
// conformance suite 20 times slower.
//
// A shuffle is one warp barrier over a double-buffered slot array: a lane writes its value
// into buffer g % 2, waits until all 32 lanes have written, reads its source lane's slot.
// It cannot overwrite buffer g % 2 again before barrier g + 1, which every lane reaches
// only after its read, so one barrier per shuffle is enough.
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "moegrad/core/cuda/emu/cuda_emu.h"

#if !defined(__x86_64__)
#error "the emulated cooperative launch switches fibers with x86-64 assembly"
#endif

// Saves the callee-saved registers, the SSE and x87 control words on the current stack and
// the stack pointer in *save_sp, then loads load_sp and restores what it saved there.
extern "C" void moegrad_emu_switch(void** save_sp, void* load_sp);
asm(R"(
  .text
  .globl moegrad_emu_switch
  .type moegrad_emu_switch, @function
moegrad_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size moegrad_emu_switch, .-moegrad_emu_switch
)");

namespace moegrad::cuda::emu {

namespace {

constexpr unsigned kWarpSize = 32;
constexpr size_t kSlotBytes = 16;
// The kernels keep a few dozen values per thread; nothing recursive runs on a fiber.
constexpr size_t kFiberStack = 64 * 1024;

struct Fiber {
  void* sp = nullptr;
  std::unique_ptr<char[]> stack;
  bool done = false;
};

// A stack whose first switch "returns" into entry, as moegrad_emu_switch's frame would.
void* fresh_stack(char* stack, size_t size, void (*entry)()) {
  auto** sp = reinterpret_cast<void**>(reinterpret_cast<uintptr_t>(stack + size) & ~uintptr_t{15});
  *--sp = nullptr;                          // entry's return address: it never returns
  *--sp = reinterpret_cast<void*>(entry);   // moegrad_emu_switch's ret goes here
  for (int r = 0; r < 6; ++r) *--sp = nullptr;  // rbp, rbx, r12 to r15
  --sp;
  uint32_t mxcsr;
  uint16_t x87;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(x87));
  std::memcpy(sp, &mxcsr, 4);
  std::memcpy(reinterpret_cast<char*>(sp) + 4, &x87, 2);
  return sp;
}

struct Warp {
  unsigned arrived = 0;
  uint64_t generation = 0;
  unsigned char slots[2][kWarpSize][kSlotBytes];
};

struct BlockRun {
  void* scheduler_sp = nullptr;
  std::vector<Fiber> fibers;
  std::vector<Warp> warps;
  void (*body)(void*) = nullptr;
  void* closure = nullptr;
  unsigned current = 0;
  uint64_t events = 0;  // arrivals and exits: the scheduler's evidence of progress
  std::exception_ptr error;
};

thread_local BlockRun* active = nullptr;

void fiber_main() {
  BlockRun& run = *active;
  try {
    run.body(run.closure);
  } catch (...) {
    if (!run.error) run.error = std::current_exception();
  }
  Fiber& self = run.fibers[run.current];
  self.done = true;
  ++run.events;
  moegrad_emu_switch(&self.sp, run.scheduler_sp);  // never resumed
}

void yield_to_scheduler(BlockRun& run) { moegrad_emu_switch(&run.fibers[run.current].sp, run.scheduler_sp); }

// Waits until every lane of this thread's warp has arrived; returns the generation passed.
uint64_t warp_barrier(BlockRun& run, Warp& w) {
  const uint64_t gen = w.generation;
  ++run.events;
  if (++w.arrived == kWarpSize) {
    w.arrived = 0;
    ++w.generation;
    return gen;
  }
  while (w.generation == gen) yield_to_scheduler(run);
  return gen;
}

}  // namespace

void run_cooperative(dim3 grid, dim3 block, void (*body)(void*), void* closure) {
  if (active) throw std::logic_error("emulated cooperative launch from inside a kernel");
  if (block.y != 1 || block.z != 1 || block.x % kWarpSize != 0)
    throw std::runtime_error("emulated cooperative launch: a block must be whole warps along x, got (" +
                             std::to_string(block.x) + ", " + std::to_string(block.y) + ", " +
                             std::to_string(block.z) + ")");
  BlockRun run;
  run.body = body;
  run.closure = closure;
  run.fibers.resize(block.x);
  for (Fiber& f : run.fibers) f.stack = std::make_unique<char[]>(kFiberStack);
  run.warps.resize(block.x / kWarpSize);
  struct Deactivate {
    ~Deactivate() { active = nullptr; }
  } deactivate;
  active = &run;
  gridDim = grid;
  blockDim = block;
  for (unsigned b = 0; b < grid.x; ++b) {
    blockIdx = dim3(b);
    for (Warp& w : run.warps) w = Warp{};
    for (Fiber& f : run.fibers) {
      f.sp = fresh_stack(f.stack.get(), kFiberStack, fiber_main);
      f.done = false;
    }
    unsigned live = block.x;
    while (live > 0) {
      const uint64_t before = run.events;
      for (unsigned t = 0; t < block.x; ++t) {
        if (run.fibers[t].done) continue;
        run.current = t;
        threadIdx = dim3(t);
        moegrad_emu_switch(&run.scheduler_sp, run.fibers[t].sp);
        if (run.fibers[t].done) --live;
        if (run.error) std::rethrow_exception(run.error);
      }
      if (live > 0 && run.events == before)
        throw std::runtime_error("emulated kernel hung in block " + std::to_string(b) +
                                 ": lanes of a warp wait at a shuffle that others of the warp exited or never "
                                 "reach (undefined on a GPU)");
    }
  }
}

void warp_exchange(unsigned mask, const void* mine, void* theirs, size_t bytes, unsigned src) {
  BlockRun* run = active;
  if (!run) throw std::logic_error("warp shuffle outside a cooperative launch (launch it with launch_warps)");
  if (mask != 0xffffffffu) throw std::logic_error("warp shuffle: the kernels shuffle over whole warps only");
  if (bytes > kSlotBytes) throw std::logic_error("warp shuffle of a value wider than 16 bytes");
  const unsigned lane = threadIdx.x % kWarpSize;
  Warp& w = run->warps[threadIdx.x / kWarpSize];
  const unsigned buffer = w.generation % 2;
  std::memcpy(w.slots[buffer][lane], mine, bytes);
  warp_barrier(*run, w);
  std::memcpy(theirs, w.slots[buffer][src], bytes);
}

}  // namespace moegrad::cuda::emu
