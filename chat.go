package switchboard

import "time"

// ChatStatus is where a chat is in its lifecycle:
// queued → ongoing → completed, queued → missed; reopening puts a completed
// or missed chat back to queued (or ongoing with the operator who reopened it).
type ChatStatus string

const (
	ChatQueued    ChatStatus = "queued"
	ChatOngoing   ChatStatus = "ongoing"
	ChatMissed    ChatStatus = "missed"
	ChatCompleted ChatStatus = "completed"
)

// Open reports whether the chat still takes messages from both sides.
func (s ChatStatus) Open() bool { return s == ChatQueued || s == ChatOngoing }

// Category is a history view. A chat can be in several categories.
type Category string

const (
	CategoryAll       Category = "all"
	CategoryOngoing   Category = "ongoing"   // queued or ongoing
	CategoryMissed    Category = "missed"    // missed
	CategoryReopened  Category = "reopened"  // ever reopened, whatever the status
	CategoryCompleted Category = "completed" // completed
	CategoryMonitored Category = "monitored" // watched by a supervisor now
)

// Visitor is an anonymous website visitor, known by the signed token its
// widget keeps.
type Visitor struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	PageURL   string    `json:"page_url"`
	Locale    string    `json:"locale"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen_at"`
}

// Chat is one conversation between a visitor and a department.
type Chat struct {
	ID             string     `json:"id"`
	DepartmentID   string     `json:"department_id"`
	DepartmentName string     `json:"department_name"` // kept when the department is deleted
	VisitorID      string     `json:"visitor_id"`
	OperatorID     string     `json:"operator_id"` // "" while queued or missed
	Status         ChatStatus `json:"status"`
	Question       string     `json:"question"`
	PageURL        string     `json:"page_url"`
	VisitorIP      string     `json:"visitor_ip"`
	Locale         string     `json:"locale"`
	Reopened       bool       `json:"reopened"`
	ReopenedAt     *time.Time `json:"reopened_at"`
	StartedAt      time.Time  `json:"started_at"`
	AnsweredAt     *time.Time `json:"answered_at"`
	EndedAt        *time.Time `json:"ended_at"`
	LastSeq        int64      `json:"last_seq"`
	Rating         int        `json:"rating"` // 0 when no feedback
}

// SenderKind says who wrote a message.
type SenderKind string

const (
	FromVisitor  SenderKind = "visitor"
	FromOperator SenderKind = "operator"
	FromSystem   SenderKind = "system"
)

// Message is one line of a chat's transcript. Seq is 1, 2, 3 … per chat with
// no gaps; (ChatID, ClientMsgID) is unique.
type Message struct {
	ChatID      string     `json:"chat_id"`
	Seq         int64      `json:"seq"`
	ClientMsgID string     `json:"client_msg_id"`
	FromKind    SenderKind `json:"from_kind"`
	FromID      string     `json:"from_id"`
	FromName    string     `json:"from_name"`
	Body        string     `json:"body"`
	At          time.Time  `json:"at"`
}

// Transfer is one hop of a chat between departments or operators.
type Transfer struct {
	ID               string    `json:"id"`
	ChatID           string    `json:"chat_id"`
	At               time.Time `json:"at"`
	FromDepartmentID string    `json:"from_department"`
	ToDepartmentID   string    `json:"to_department"`
	FromOperatorID   string    `json:"from_operator"`
	ToOperatorID     string    `json:"to_operator"`
	Note             string    `json:"note"`
}

// Note is an operator's internal remark on a chat; visitors never see it.
type Note struct {
	ID         string    `json:"id"`
	ChatID     string    `json:"chat_id"`
	OperatorID string    `json:"operator_id"`
	Body       string    `json:"body"`
	CreatedAt  time.Time `json:"created_at"`
}

// Feedback is a visitor's rating (1–5) and comment on a chat.
type Feedback struct {
	ChatID    string    `json:"chat_id"`
	Rating    int       `json:"rating"`
	Comment   string    `json:"comment"`
	CreatedAt time.Time `json:"created_at"`
}

// BlockedIP keeps an address or CIDR from opening the visitor socket.
type BlockedIP struct {
	ID           string     `json:"id"`
	IP           string     `json:"ip"` // as given: an address or a CIDR
	Reason       string     `json:"reason"`
	DepartmentID string     `json:"department_id"` // "" blocks for every department
	ChatID       string     `json:"chat_id"`
	CreatedBy    string     `json:"created_by"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
}

// MailKind is why an email is sent.
type MailKind string

const (
	MailTranscript MailKind = "transcript"
	MailBlockedIP  MailKind = "blocked_ip"
	MailFeedback   MailKind = "feedback"
	MailMissed     MailKind = "missed"
	MailVisitor    MailKind = "visitor" // an operator's email or reply to a visitor
)

// MailStatus is an outbox row's state.
type MailStatus string

const (
	MailPending   MailStatus = "pending"
	MailSent      MailStatus = "sent"
	MailFailed    MailStatus = "failed"    // permanent failure, or retries ran out
	MailCancelled MailStatus = "cancelled" // its chat was deleted
)

// Mail is one row of the durable outbox.
type Mail struct {
	ID            string     `json:"id"`
	Kind          MailKind   `json:"kind"`
	ChatID        string     `json:"chat_id"`
	DepartmentID  string     `json:"department_id"`
	MessageID     string     `json:"message_id"` // RFC 5322 Message-ID, the same on every attempt
	From          string     `json:"from"`
	To            []string   `json:"to"`
	CC            []string   `json:"cc"`
	Subject       string     `json:"subject"`
	TextBody      string     `json:"text_body"`
	HTMLBody      string     `json:"html_body"`
	Attachment    string     `json:"attachment_name"` // "" for none
	AttachmentDoc []byte     `json:"-"`
	Status        MailStatus `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	LastError     string     `json:"last_error"`
	CreatedAt     time.Time  `json:"created_at"`
	SentAt        *time.Time `json:"sent_at"`
}

// AuditEntry records who did something destructive, without the content.
type AuditEntry struct {
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	ActorID    string    `json:"actor_id"`
	Action     string    `json:"action"` // "chat.delete", "department.delete", …
	ObjectType string    `json:"object_type"`
	ObjectID   string    `json:"object_id"`
}
