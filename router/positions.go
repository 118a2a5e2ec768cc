package router

// Positions returns the ids of the department's queued chats, front (next
// to be answered) first. It is a snapshot: the queue may change right after.
func (r *Router) Positions(departmentID string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	qs := r.queues[departmentID]
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.chat.ID
	}
	return out
}
