#pragma once
// A run folder holds one run and nothing else: config.yaml, metrics.jsonl, metrics.csv,
// checkpoints/ and run.lock. While a run lives it holds an exclusive lock on run.lock, so a
// second run into the same folder is refused, naming the holder. What a killed run leaves
// behind (hidden .tmp files of an interrupted atomic write, half a checkpoint) is removed
// by the next run that takes the folder.
#include <optional>
#include <string>
#include <vector>

namespace moegrad::train {

enum class FolderKind {
  absent,           // nothing at that path
  not_a_folder,     // a file (or device, FIFO...) at that path
  reusable,         // empty, or a run that never wrote a checkpoint (killed, NaN, full disk)
  has_checkpoints,  // a run with at least one complete checkpoint
  foreign,          // holds files a run does not write: never touched
};

struct FolderState {
  FolderKind kind = FolderKind::absent;
  std::string foreign_entry;  // for `foreign`: the first entry that is not a run's
};

// Looks, writes nothing.
FolderState inspect_run_folder(const std::string& dir);

// An exclusive flock on <dir>/run.lock, held until destruction (or process exit: the kernel
// releases it, so a killed run never leaves a stale lock). The file names the holder.
class RunLock {
 public:
  // Creates the lock file; throws ConfigFileError("<location>: <key>: ... in use by ...")
  // when another process holds it.
  RunLock(const std::string& dir, const std::string& location, const std::string& key);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  // Who holds the lock of `dir` ("pid 12 on host h, started ..."), or nothing when no one
  // does. Writes nothing.
  static std::optional<std::string> holder(const std::string& dir);

 private:
  int fd_ = -1;
};

// Creates a new folder `base`, or `base-2`, `base-3`... when taken: mkdir is atomic, so two
// runs started at the same moment never share one. Returns the folder made.
std::string create_new_folder(const std::string& base);

// Deletes hidden .tmp files left by an interrupted write and checkpoint halves (their
// sidecar missing or the reverse) in `dir` and its checkpoints/. Returns what it deleted.
// Call it only while holding the folder's RunLock.
std::vector<std::string> clean_leftovers(const std::string& dir);

}  // namespace moegrad::train
