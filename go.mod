module github.com/switchboard-chat/switchboard

go 1.26
