#include "server/smbdirect/buffer_pool.h"

namespace xsmb::smbdirect {

BufferPool::BufferPool(std::shared_ptr<Verbs> verbs, size_t buffer_size, size_t max_buffers)
    : verbs_(std::move(verbs)), buffer_size_(buffer_size), max_(max_buffers) {}

BufferPool::~BufferPool() {
  for (auto& s : slots_) verbs_->deregisterMemory(s->buffer.token);
}

std::shared_ptr<smbd::RegisteredBuffer> BufferPool::acquire(size_t size) {
  if (size > buffer_size_ || size == 0) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  size_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    if (slots_.size() >= max_) return nullptr;
    auto slot = std::make_unique<Slot>();
    slot->memory = std::make_unique_for_overwrite<uint8_t[]>(buffer_size_);
    slot->buffer.bytes = {slot->memory.get(), buffer_size_};
    slot->buffer.token = verbs_->registerMemory(slot->buffer.bytes);
    if (slot->buffer.token == 0) return nullptr;
    index = slots_.size();
    slots_.push_back(std::move(slot));
  }
  // The deleter keeps the pool alive and puts the slot back; the buffer itself is not freed.
  std::shared_ptr<BufferPool> self = shared_from_this();
  return std::shared_ptr<smbd::RegisteredBuffer>(
      &slots_[index]->buffer, [self, index](smbd::RegisteredBuffer*) { self->release(index); });
}

void BufferPool::release(size_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  free_.push_back(index);
}

size_t BufferPool::registered() const {
  std::lock_guard<std::mutex> lock(mu_);
  return slots_.size();
}

size_t BufferPool::inUse() const {
  std::lock_guard<std::mutex> lock(mu_);
  return slots_.size() - free_.size();
}

}  // namespace xsmb::smbdirect
