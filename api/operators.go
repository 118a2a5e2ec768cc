package api

import (
	"errors"
	"net/http"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
)

// operatorView is an operator as the API shows it, with live status.
type operatorView struct {
	switchboard.Operator
	Status      switchboard.Status `json:"status"`
	ActiveChats int                `json:"active_chats"`
	CreatedAt   string             `json:"created_at"`
	UpdatedAt   string             `json:"updated_at"`
}

func (s *Server) operatorView(o switchboard.Operator) operatorView {
	v := operatorView{
		Operator:  o,
		Status:    switchboard.StatusOffline,
		CreatedAt: o.CreatedAt.UTC().Format(switchboard.TimeFormat),
		UpdatedAt: o.UpdatedAt.UTC().Format(switchboard.TimeFormat),
	}
	if s.presence != nil {
		v.Status, v.ActiveChats = s.presence.OperatorStatus(o.ID)
	}
	return v
}

// operatorInput is what an admin may set on an operator. Password is
// write-only: given, it replaces the password and ends the operator's other
// sessions.
type operatorInput struct {
	Name     string           `json:"name"`
	Email    string           `json:"email"`
	Role     switchboard.Role `json:"role"`
	MaxChats int              `json:"max_chats"`
	Enabled  bool             `json:"enabled"`
	Locale   string           `json:"locale"`
	Password *string          `json:"password"`
}

var operatorReadOnly = []string{"id", "department_ids", "status", "active_chats", "created_at", "updated_at"}

// mergeOperator applies a create or patch body onto o and reports whether
// the password changed.
func mergeOperator(o *switchboard.Operator, body map[string]any) (passwordChanged bool, err error) {
	if err := refuseFields(body, operatorReadOnly...); err != nil {
		return false, err
	}
	merged := toMap(operatorInput{Name: o.Name, Email: o.Email, Role: o.Role, MaxChats: o.MaxChats, Enabled: o.Enabled, Locale: o.Locale})
	mergePatch(merged, body)
	var in operatorInput
	if err := decodeInto(merged, &in); err != nil {
		return false, err
	}
	o.Name, o.Email, o.Role, o.MaxChats, o.Enabled, o.Locale = in.Name, in.Email, in.Role, in.MaxChats, in.Enabled, in.Locale
	o.Tidy() // no defaults: o had them before the merge, so a zero here was sent on purpose
	if err := o.Validate(); err != nil {
		return false, err
	}
	if in.Password == nil {
		return false, nil
	}
	if err := switchboard.ValidatePassword(*in.Password); err != nil {
		return false, err
	}
	hash, err := auth.HashPassword(*in.Password)
	if err != nil {
		return false, err
	}
	o.PasswordHash = hash
	return true, nil
}

func (s *Server) handleListOperators(w http.ResponseWriter, r *http.Request, c *caller) {
	p, err := pageFromQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items, next, err := s.store.Operators(r.Context(), p)
	if err != nil {
		s.fail(w, r, badQuery(err))
		return
	}
	views := make([]operatorView, len(items))
	for i, o := range items {
		views[i] = s.operatorView(o)
	}
	writeJSON(w, http.StatusOK, newList(views, next))
}

func (s *Server) handleCreateOperator(w http.ResponseWriter, r *http.Request, c *caller) {
	body, err := readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, f := range []string{"name", "email", "password"} {
		if _, ok := body[f]; !ok {
			s.fail(w, r, switchboard.Invalid(f, "is required"))
			return
		}
	}
	o := switchboard.Operator{Enabled: true}
	o.Normalize()
	if _, err := mergeOperator(&o, body); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.CreateOperator(r.Context(), &o); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("operator created", "operator_id", o.ID, "role", o.Role, "by", c.ID)
	writeJSON(w, http.StatusCreated, s.operatorView(o))
}

func (s *Server) handleGetOperator(w http.ResponseWriter, r *http.Request, c *caller) {
	o, err := s.store.Operator(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.operatorView(o))
}

func (s *Server) handlePatchOperator(w http.ResponseWriter, r *http.Request, c *caller) {
	body, err := readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	// The store refuses to demote or disable the last enabled admin.
	var passwordChanged bool
	o, err := s.store.UpdateOperator(r.Context(), id, func(o *switchboard.Operator) error {
		passwordChanged, err = mergeOperator(o, body)
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// A new password or a disabled account ends sessions at once (the
	// caller's own session survives its own password change).
	switch {
	case !o.Enabled:
		err = s.store.DeleteOperatorSessions(r.Context(), o.ID, "")
	case passwordChanged:
		err = s.store.DeleteOperatorSessions(r.Context(), o.ID, c.tokenHash)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.operatorChanged(r, o.ID)
	writeJSON(w, http.StatusOK, s.operatorView(o))
}

// operatorChanged lets the router apply a changed operator at once. The
// change is stored either way, so a failure here is only logged.
func (s *Server) operatorChanged(r *http.Request, id string) {
	if s.presence == nil {
		return
	}
	if err := s.presence.OperatorUpdated(r.Context(), id); err != nil {
		s.log.Warn("router did not take the operator change", "operator_id", id, "err", err)
	}
}

func (s *Server) handleDeleteOperator(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.store.DeleteOperator(r.Context(), r.PathValue("id"), c.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.operatorChanged(r, r.PathValue("id"))
	s.log.Info("operator deleted", "operator_id", r.PathValue("id"), "by", c.ID)
	w.WriteHeader(http.StatusNoContent)
}

// meInput is what operators may change about themselves.
type meInput struct {
	Name            *string `json:"name"`
	Locale          *string `json:"locale"`
	Password        *string `json:"password"`
	CurrentPassword string  `json:"current_password"`
}

func (s *Server) handlePatchMe(w http.ResponseWriter, r *http.Request, c *caller) {
	var in meInput
	if err := decodeBody(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	o, err := s.store.UpdateOperator(r.Context(), c.ID, func(o *switchboard.Operator) error {
		if in.Name != nil {
			o.Name = *in.Name
		}
		if in.Locale != nil {
			o.Locale = *in.Locale
		}
		o.Normalize()
		if err := o.Validate(); err != nil {
			return err
		}
		if in.Password == nil {
			return nil
		}
		if err := auth.CheckPassword(o.PasswordHash, in.CurrentPassword); err != nil {
			if errors.Is(err, auth.ErrMismatch) {
				return switchboard.Invalid("current_password", "is wrong")
			}
			return err
		}
		if err := switchboard.ValidatePassword(*in.Password); err != nil {
			return err
		}
		hash, err := auth.HashPassword(*in.Password)
		o.PasswordHash = hash
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Password != nil {
		if err := s.store.DeleteOperatorSessions(r.Context(), o.ID, c.tokenHash); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, s.operatorView(o))
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request, c *caller) {
	p, err := pageFromQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items, next, err := s.store.AuditLog(r.Context(), p)
	if err != nil {
		s.fail(w, r, badQuery(err))
		return
	}
	type auditView struct {
		switchboard.AuditEntry
		At string `json:"at"`
	}
	views := make([]auditView, len(items))
	for i, e := range items {
		views[i] = auditView{AuditEntry: e, At: e.At.UTC().Format(switchboard.TimeFormat)}
	}
	writeJSON(w, http.StatusOK, newList(views, next))
}
