module reqtrack-go-program

go 1.19

require reqtrack v0.0.0

replace reqtrack => ../../../clients/go/reqtrack
