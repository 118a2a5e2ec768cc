package seed

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store/sqlstore"
)

// Rare and common terms the generated text contains, for search
// benchmarks. A rare term is added to about one message in RareEvery.
const (
	RareEvery = 100_000

	CommonEnglish    = "order"    // in most English chats
	RareEnglish      = "kumquat"  // about one message in RareEvery
	CommonJapanese2  = "注文"       // in most Japanese chats
	RareJapanese2    = "蜜柑"       // about one message in RareEvery
	CommonJapanese4  = "配送状況"     // in many Japanese chats
	RareJapanese4    = "鉄道模型"     // about one message in RareEvery
	rareEnglishExtra = " kumquat" // appended to an English message
)

var (
	enProducts = []string{"jacket", "backpack", "coffee grinder", "kettle", "headphones", "desk lamp", "umbrella", "sneakers", "watch", "wallet"}
	enPlaces   = []string{"Osaka", "Tokyo", "Berlin", "Toronto", "Sydney", "Paris", "Seoul", "London"}
	enVisitor  = []string{
		"Hi, I have a question about my order #%06[1]d.",
		"Where is my package? It was supposed to arrive yesterday.",
		"Can I change the delivery address for order #%06[1]d?",
		"Do you ship to %[2]s?",
		"How much is shipping to %[2]s?",
		"I'd like a refund for the %[3]s I bought.",
		"The %[3]s I received is damaged.",
		"Is the %[3]s available in blue?",
		"My coupon code doesn't work at checkout.",
		"Can I pay by invoice?",
		"Thanks, that helps!",
		"Ok, thank you.",
		"What are your opening hours?",
		"I can't log in to my account.",
		"How do I reset my password?",
	}
	enOperator = []string{
		"Hello! Let me check that for you.",
		"Thanks for waiting. Your order #%06[1]d has shipped.",
		"I'm sorry to hear that. I'll arrange a replacement %[3]s.",
		"Yes, we ship to %[2]s within 3-5 business days.",
		"Could you give me your order number, please?",
		"I've issued a refund; it takes 5-7 days to show up.",
		"Is there anything else I can help with?",
		"You can reset it from the login page.",
		"Our support is open 9:00-18:00 on weekdays.",
	}
	jaProducts = []string{"ジャケット", "リュック", "コーヒーミル", "電気ケトル", "ヘッドホン", "デスクライト", "傘", "スニーカー", "腕時計", "財布"}
	jaPlaces   = []string{"大阪", "東京", "福岡", "札幌", "名古屋", "京都", "沖縄", "仙台"}
	jaVisitor  = []string{
		"注文した%[3]sがまだ届きません。",
		"注文番号%06[1]dの配送状況を教えてください。",
		"%[2]sへの配送は可能ですか？",
		"送料はいくらですか？",
		"%[3]sを返品したいです。",
		"届いた%[3]sが壊れていました。",
		"%[3]sの青色はありますか？",
		"クーポンコードが使えません。",
		"請求書払いはできますか？",
		"ありがとうございます。助かりました。",
		"営業時間を教えてください。",
		"ログインできません。",
		"パスワードを忘れました。",
	}
	jaOperator = []string{
		"お問い合わせありがとうございます。確認いたします。",
		"お待たせしました。ご注文%06[1]dは発送済みです。",
		"申し訳ございません。%[3]sの交換品を手配いたします。",
		"はい、%[2]sへは3〜5営業日でお届けします。",
		"注文番号を教えていただけますか？",
		"返金手続きをいたしました。5〜7日ほどかかります。",
		"他にご不明な点はございますか？",
		"ログイン画面からパスワードを再設定できます。",
	}
	enFirst = []string{"Vera", "Liam", "Emma", "Noah", "Olivia", "Lucas", "Mia", "Ethan", "Ava", "Leo"}
	enLast  = []string{"Smith", "Brown", "Miller", "Davis", "Wilson", "Moore", "Taylor", "Clark"}
	jaFirst = []string{"健二", "美咲", "翔太", "陽菜", "大輝", "さくら", "蓮", "結衣"}
	jaLast  = []string{"佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村"}
	jaRom   = []string{"sato", "suzuki", "takahashi", "tanaka", "ito", "watanabe", "yamamoto", "nakamura"}
	notes   = []string{"VIP customer", "Follow up next week", "常連のお客様", "Asked for a callback", "返品対応済み"}
)

// Visitor is a generated visitor.
type Visitor struct {
	ID, Name, Email, IP, Locale string
}

// Chat is a generated chat with everything stored for it.
type Chat struct {
	switchboard.Chat
	Messages []switchboard.Message
	Feedback *switchboard.Feedback
	Notes    []switchboard.Note
	Transfer *switchboard.Transfer
}

// generator makes deterministic data from its seed.
type generator struct {
	r        *rand.Rand
	cfg      Config
	depts    []switchboard.Department
	deptOps  [][]switchboard.Operator // per department
	visitors []Visitor
	start    time.Time
	step     time.Duration
}

func (g *generator) pick(l []string) string { return l[g.r.IntN(len(l))] }

// sentence fills a template; the arguments are an order number, a place
// and a product.
func (g *generator) sentence(ja, operator bool) string {
	var tpl, place, product string
	switch {
	case ja && operator:
		tpl, place, product = g.pick(jaOperator), g.pick(jaPlaces), g.pick(jaProducts)
	case ja:
		tpl, place, product = g.pick(jaVisitor), g.pick(jaPlaces), g.pick(jaProducts)
	case operator:
		tpl, place, product = g.pick(enOperator), g.pick(enPlaces), g.pick(enProducts)
	default:
		tpl, place, product = g.pick(enVisitor), g.pick(enPlaces), g.pick(enProducts)
	}
	s := tpl
	if strings.Contains(tpl, "%") {
		// Explicit argument indexes: a template may use any of them.
		s = fmt.Sprintf(tpl, g.r.IntN(1_000_000), place, product)
	}
	if g.r.IntN(RareEvery) == 0 {
		if ja {
			if g.r.IntN(2) == 0 {
				s += RareJapanese2 + "はありますか？"
			} else {
				s += RareJapanese4 + "も扱っていますか？"
			}
		} else {
			s += rareEnglishExtra
		}
	}
	return s
}

func (g *generator) newVisitor(i int) Visitor {
	v := Visitor{ID: switchboard.NewID(), IP: fmt.Sprintf("198.51.%d.%d", i/250%250, i%250+1)}
	if g.r.IntN(10) < 4 {
		li := g.r.IntN(len(jaLast))
		v.Locale, v.Name = "ja", jaLast[li]+" "+g.pick(jaFirst)
		v.Email = fmt.Sprintf("%s%d@example.jp", jaRom[li], i)
	} else {
		first := g.pick(enFirst)
		v.Locale, v.Name = "en", first+" "+g.pick(enLast)
		v.Email = fmt.Sprintf("%s%d@example.com", strings.ToLower(first), i)
	}
	return v
}

// chat generates chat number i (0 is the oldest); the newest few are
// still queued or ongoing.
func (g *generator) chat(i int) Chat {
	v := g.visitors[g.r.IntN(len(g.visitors))]
	di := g.r.IntN(len(g.depts))
	d := g.depts[di]
	started := g.start.Add(time.Duration(i)*g.step + time.Duration(g.r.Int64N(int64(max(g.step, time.Millisecond))))).Truncate(time.Millisecond)
	c := Chat{Chat: switchboard.Chat{
		ID: switchboard.NewID(), DepartmentID: d.ID, DepartmentName: d.Name, VisitorID: v.ID,
		PageURL: "https://shop.example.com/products/" + fmt.Sprint(g.r.IntN(500)), VisitorIP: v.IP,
		Locale: v.Locale, StartedAt: started,
	}}
	// The newest 0.1 % (at least a few) are still open: one in four queued.
	nOpen := max(g.cfg.Chats/1000, min(4, g.cfg.Chats))
	switch fromNewest := g.cfg.Chats - 1 - i; {
	case fromNewest < nOpen && fromNewest%4 == 0:
		c.Status = switchboard.ChatQueued
	case fromNewest < nOpen:
		c.Status = switchboard.ChatOngoing
	case g.r.IntN(100) < 10:
		c.Status = switchboard.ChatMissed
	default:
		c.Status = switchboard.ChatCompleted
	}
	ops := g.deptOps[di]
	answered := c.Status == switchboard.ChatOngoing || c.Status == switchboard.ChatCompleted
	var op switchboard.Operator
	if answered {
		op = ops[g.r.IntN(len(ops))]
		c.OperatorID = op.ID
		t := started.Add(time.Duration(5+g.r.IntN(60)) * time.Second)
		c.AnsweredAt = &t
	}
	ja := v.Locale == "ja"
	at := started
	for seq := 1; seq <= g.cfg.Messages; seq++ {
		m := switchboard.Message{ChatID: c.ID, Seq: int64(seq), At: at}
		at = at.Add(time.Duration(5+g.r.IntN(40)) * time.Second)
		switch {
		case seq == 1:
			m.ClientMsgID = sqlstore.QuestionClientMsgID
			m.FromKind, m.FromID, m.FromName = switchboard.FromVisitor, v.ID, v.Name
			m.Body = g.sentence(ja, false)
			c.Question = m.Body
		case answered && seq == 2:
			m.FromKind, m.FromID, m.Body = switchboard.FromSystem, "joined", op.Name+" joined the chat"
		case c.Status == switchboard.ChatCompleted && seq == g.cfg.Messages:
			m.FromKind, m.FromID, m.Body = switchboard.FromSystem, "ended", op.Name+" ended the chat"
		case answered && seq%2 == 1:
			m.FromKind, m.FromID, m.FromName = switchboard.FromOperator, op.ID, op.Name
			m.Body = g.sentence(ja, true)
		default:
			m.FromKind, m.FromID, m.FromName = switchboard.FromVisitor, v.ID, v.Name
			m.Body = g.sentence(ja, false)
		}
		if m.ClientMsgID == "" {
			m.ClientMsgID = fmt.Sprintf("m%d", seq)
		}
		c.Messages = append(c.Messages, m)
	}
	c.LastSeq = int64(len(c.Messages))
	if c.Status == switchboard.ChatCompleted || c.Status == switchboard.ChatMissed {
		end := at
		if c.Status == switchboard.ChatCompleted {
			c.EndedAt = &end
		}
		if g.r.IntN(100) < 3 {
			c.Reopened = true
			ra := end.Add(time.Duration(1+g.r.IntN(48)) * time.Hour)
			c.ReopenedAt = &ra
		}
	}
	if c.Status == switchboard.ChatCompleted {
		if g.r.IntN(100) < 40 {
			rating := []int{5, 5, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 4, 3, 3, 2, 1, 1}[g.r.IntN(20)]
			c.Rating = rating
			fb := &switchboard.Feedback{ChatID: c.ID, Rating: rating, CreatedAt: c.EndedAt.Add(time.Minute)}
			if g.r.IntN(3) == 0 {
				fb.Comment = map[bool]string{true: "丁寧な対応でした", false: "Quick and helpful"}[ja]
			}
			c.Feedback = fb
		}
		if g.r.IntN(100) < 2 {
			c.Notes = []switchboard.Note{{ID: switchboard.NewID(), ChatID: c.ID, OperatorID: op.ID,
				Body: g.pick(notes), CreatedAt: c.EndedAt.Add(2 * time.Minute)}}
		}
		if len(ops) > 1 && g.r.IntN(100) < 3 {
			to := ops[g.r.IntN(len(ops))]
			if to.ID != op.ID {
				c.Transfer = &switchboard.Transfer{ID: switchboard.NewID(), ChatID: c.ID, At: c.AnsweredAt.Add(time.Minute),
					FromDepartmentID: d.ID, ToDepartmentID: d.ID, FromOperatorID: op.ID, ToOperatorID: to.ID}
				c.OperatorID = to.ID
			}
		}
	}
	return c
}
