module github.com/autorep/autorep

go 1.26
