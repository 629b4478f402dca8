function __mcrun_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __mcrun_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __mcrun_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __mcrun_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __mcrun_parse_tokens -S
    set -l unparsed_tokens (__mcrun_tokens -pc)
    switch $unparsed_tokens[1]
    case 'mcrun'
        __mcrun_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'start'
            __mcrun_parse_subcommand -r 2 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'owner=' 'cwd=' 'env=+' 'adopt' 'force' 'timeout=' 'agent=' 'resume-argv=' 'version' 'h/help'
        case 'stop'
            __mcrun_parse_subcommand 1 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'all' 'exec-stop' 'reason=' 'grace=' 'signal=' 'interrupt-key=' 'version' 'h/help'
        case 'ps'
            __mcrun_parse_subcommand 0 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'all' 'busy-detail' 'harvest-timeout=' 'watch' 'interval=' 'version' 'h/help'
        case 'show'
            __mcrun_parse_subcommand 1 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'events=' 'version' 'h/help'
        case 'attach'
            __mcrun_parse_subcommand 1 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'rw' 'print' 'version' 'h/help'
        case 'adopt'
            __mcrun_parse_subcommand 1 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'owner=' 'force' 'version' 'h/help'
        case 'send'
            __mcrun_parse_subcommand 2 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'file=' 'queue' 'interrupt' 'wait=' 'receipt=' 'no-enter' 'version' 'h/help'
        case 'park'
            __mcrun_parse_subcommand 1 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'reason=' 'grace=' 'signal=' 'interrupt-key=' 'version' 'h/help'
        case 'unpark'
            __mcrun_parse_subcommand 1 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'reason=' 'version' 'h/help'
        case 'killswitch'
            __mcrun_parse_subcommand 1 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'reason=' 'version' 'h/help'
        case 'breaker'
            __mcrun_parse_subcommand 1 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'reason=' 'version' 'h/help'
        case 'config'
            __mcrun_parse_subcommand 2 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'version' 'h/help'
        case 'doctor'
            __mcrun_parse_subcommand 0 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'version' 'h/help'
        case 'metrics'
            __mcrun_parse_subcommand 0 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'version' 'h/help'
        case 'activity'
            __mcrun_parse_subcommand 1 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'ticket=' 'episode=' 'nonce=' 'version' 'h/help'
        case 'agent'
            __mcrun_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'report'
                __mcrun_parse_subcommand -r 1 'from=' 'version' 'h/help'
            case 'setup'
                __mcrun_parse_subcommand 1 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'project=' 'user' 'dry-run' 'version' 'h/help'
            end
        case 'logs'
            __mcrun_parse_subcommand 1 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'n=' 'f' 'raw' 'episode=' 'version' 'h/help'
        case 'signal'
            __mcrun_parse_subcommand 1 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'payload=' 'summary=' 'ticket=' 'episode=' 'nonce=' 'version' 'h/help'
        case 'harvest'
            __mcrun_parse_subcommand 1 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'episode=' 'harvest-timeout=' 'lines=' 'version' 'h/help'
        case 'events'
            __mcrun_parse_subcommand 0 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'since=' 'follow' 'ticket=' 'kind=+' 'version' 'h/help'
        case 'event-hooks'
            __mcrun_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'deliver'
                __mcrun_parse_subcommand 0 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'hooks-dir=' 'timeout=' 'max-attempts=' 'backoff=' 'max-backoff=' 'poll=' 'once' 'version' 'h/help'
            case 'list'
                __mcrun_parse_subcommand 0 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'state=' 'event=' 'limit=' 'version' 'h/help'
            end
        case 'serve'
            __mcrun_parse_subcommand 0 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'reconcile-interval=' 'max-silent-retries=' 'retry-delay=' 'launch-timeout=' 'hooks-dir=' 'metrics-textfile=' 'version' 'h/help'
        case 'reset'
            __mcrun_parse_subcommand 1 'state-dir=' 'json' 'actor=' 'recreate-ledger' 'reason=' 'version' 'h/help'
        case 'help'
            __mcrun_parse_subcommand -r 1 'version'
        end
    end
end

function __mcrun_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __mcrun_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __mcrun_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __mcrun_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__mcrun_tokens -p)
    if test -z "$(__mcrun_tokens -t)"
        set -l index (count (__mcrun_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'mcrun' -f
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'start' -d 'Start a ticket\'s agent in its own tmux session; returns once its identity is recorded.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'stop' -d 'Stop a ticket\'s runtime: signal, grace period, SIGKILL, kill leftovers, remove the session.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'ps' -d 'List runtimes: live ones and tickets that need attention, with liveness read now.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'show' -d 'Show a ticket: its current runtime, its episodes, its last events.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'attach' -d 'Watch a ticket\'s live agent in its tmux session: read-only unless --rw.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'adopt' -d 'Take over a ticket\'s live runtime (the answer to a 409 from start): confirm it, record the owner, return it.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'send' -d 'Type a message into a ticket\'s agent: one bracketed paste, then Enter.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'park' -d 'Park a ticket: mark it parked and stop its runtime, atomically with respect to start and adopt.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'unpark' -d 'Clear a ticket\'s parked flag so it can be started again (starts nothing itself).'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'killswitch' -d 'Stop all automatic action on this host: while on, start, adopt, send and relaunches exit 5 (killswitch).'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'breaker' -d 'Show or close the host breaker that holds starts and relaunches after agents of several tickets died right after starting.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'config' -d 'Show or change a host setting kept in the ledger.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'doctor' -d 'Check this host\'s mcrun set-up: each check ok, warn or fail, with the fix.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'metrics' -d 'Print the host\'s metrics in the Prometheus text format.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'activity' -d 'Report that the agent started (busy) or finished (idle) a turn, or waits for a person (waiting).'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'agent' -d 'Wire an agent to mcrun: the report its hooks call, and the setup that installs them.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'logs' -d 'Print a ticket\'s clean pane log (escape sequences and spinner redraws removed); -f follows it.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'signal' -d 'Report DONE, REVIEW or QUESTION from inside a runtime (an agent\'s hook or tool call).'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'harvest' -d 'What an episode came to: its accepted verdict and payload, or the terminal record of how it ended.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'events' -d 'Print the ledger\'s events as JSON lines, by cursor; --follow keeps streaming new ones.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'event-hooks' -d 'Event hooks: executables run per event kind with the event as JSON on stdin.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'serve' -d 'Supervise every runtime of the state directory: notice deaths, retry once, escalate.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'reset' -d 'Clear a ticket\'s death count and escalation, so the next death is retried again.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun start" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun start" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun start" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun start" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun start" owner' -l 'owner' -d 'Who the runtime belongs to (checked by adopt).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun start" cwd' -l 'cwd' -d 'Working directory of the agent (default: the current directory).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun start"' -l 'env' -d 'Extra environment for the agent, KEY=VALUE (repeatable).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun start" adopt' -l 'adopt' -d 'If the ticket already has a live runtime, adopt it (as `mcrun adopt --owner OWNER`) instead of answering 409.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun start" force' -l 'force' -d 'Start an escalated ticket without resetting it first (recorded on the launch event).'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun start" timeout' -l 'timeout' -d 'How long to wait for the agent\'s identity before the launch fails, 1ms to 1h (default 10s; a bare number is milliseconds).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun start" agent' -l 'agent' -d 'The agent the command runs: claude-code, codex, aider, or none (default: from the command\'s name: claude, codex, aider). Chooses how its activity is read.' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun start" resume-argv' -l 'resume-argv' -d 'The argv that resumes the agent\'s own session on a relaunch, {session_id} standing for the id its hooks recorded: words separated by spaces, or a JSON array of strings; no shell. Used only when the dead episode recorded a session.' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun start" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun start" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun stop" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun stop" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun stop" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun stop" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun stop" all' -l 'all' -d 'Stop every live runtime of the state directory.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun stop" exec-stop' -l 'exec-stop' -d 'Run as a unit\'s ExecStop=: do nothing when the unit\'s main process has already exited ($EXIT_CODE set).'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun stop" reason' -l 'reason' -d 'Why it is stopped (recorded).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun stop" grace' -l 'grace' -d 'How long the agent gets to exit before SIGKILL, 0s to 24h (e.g. 10s, 500ms; default 10s).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun stop" signal' -l 'signal' -d 'Signal sent first: TERM, INT, HUP or QUIT.' -rfka 'TERM INT HUP QUIT'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun stop" interrupt-key' -l 'interrupt-key' -d 'A tmux key sent to the pane before the signal (e.g. C-c), for agents that exit on it.' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun stop" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun stop" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun ps" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun ps" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun ps" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun ps" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun ps" all' -l 'all' -d 'Every ticket\'s latest episode, ended ones too.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun ps" busy-detail' -l 'busy-detail' -d 'Also match the busy-pattern (configured, or the agent\'s default) and, for Aider, its yes/no question against the screen of each live runtime that hooks and pane activity call idle (one tmux call per such runtime).'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun ps" harvest-timeout' -l 'harvest-timeout' -d 'Flag live runtimes without pane output for this long as silent, 1ms to 8760h (default: the harvest_timeout setting).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun ps" watch' -l 'watch' -d 'Keep the table on screen, redrawn whenever the ledger changes.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun ps" interval' -l 'interval' -d 'With --watch: redraw at least this often even when nothing was written, 100ms to 1h (default 2s).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun ps" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun ps" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun show" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun show" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun show" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun show" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun show" events' -l 'events' -d 'How many of the latest events to show, 0 to 100000 (default 20).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun show" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun show" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun attach" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun attach" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun attach" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun attach" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun attach" rw' -l 'rw' -d 'Attach read-write: your keys reach the agent.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun attach" print' -l 'print' -d 'Print the tmux command (one argument per line with --json) instead of running it; needs no terminal.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun attach" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun attach" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun adopt" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun adopt" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun adopt" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun adopt" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun adopt" owner' -l 'owner' -d 'The owner taking the runtime over; must match the runtime\'s owner unless --force.' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun adopt" force' -l 'force' -d 'Take the runtime over even if another owner holds it.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun adopt" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun adopt" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun send" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun send" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun send" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun send" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun send" file' -l 'file' -d 'Read the message from this file.' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun send" queue' -l 'queue' -d 'If the agent is busy, queue the message for its next idle moment.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun send" interrupt' -l 'interrupt' -d 'If the agent is busy, press the interrupt key and wait for idle first.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun send" wait' -l 'wait' -d 'With --interrupt: how long to wait for the agent to become idle, 0s to 1h (default 10s).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun send" receipt' -l 'receipt' -d 'After the paste, wait up to this long for the agent\'s receipt (its prompt hook), 0s to 1h.' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun send" no-enter' -l 'no-enter' -d 'Paste without pressing Enter.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun send" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun send" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun park" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun park" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun park" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun park" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun park" reason' -l 'reason' -d 'Why it is parked (recorded on the ticket and the event).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun park" grace' -l 'grace' -d 'How long the agent gets to exit before SIGKILL, 0s to 24h (e.g. 10s, 500ms; default 10s).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun park" signal' -l 'signal' -d 'Signal sent first: TERM, INT, HUP or QUIT.' -rfka 'TERM INT HUP QUIT'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun park" interrupt-key' -l 'interrupt-key' -d 'A tmux key sent to the pane before the signal (e.g. C-c).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun park" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun park" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun unpark" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun unpark" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun unpark" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun unpark" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun unpark" reason' -l 'reason' -d 'Why it is unparked (recorded).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun unpark" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun unpark" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun killswitch" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun killswitch" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun killswitch" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun killswitch" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun killswitch" -eq 1' -fka 'on off status'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun killswitch" reason' -l 'reason' -d 'Why (recorded on the event; shown in every refusal while on).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun killswitch" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun killswitch" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun breaker" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun breaker" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun breaker" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun breaker" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun breaker" -eq 1' -fka 'status close'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun breaker" reason' -l 'reason' -d 'Why it is closed (recorded on the event).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun breaker" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun breaker" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun config" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun config" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun config" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun config" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun config" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun config" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun doctor" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun doctor" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun doctor" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun doctor" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun doctor" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun doctor" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun metrics" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun metrics" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun metrics" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun metrics" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun metrics" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun metrics" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun activity" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun activity" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun activity" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun activity" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun activity" -eq 1' -fka 'busy idle waiting'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun activity" ticket' -l 'ticket' -d 'Ticket (default: $MCRUN_TICKET).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun activity" episode' -l 'episode' -d 'Episode (default: $MCRUN_EPISODE).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun activity" nonce' -l 'nonce' -d 'The episode\'s nonce (default: $MCRUN_NONCE).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun activity" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun activity" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun agent" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun agent" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun agent" -eq 1' -fa 'report' -d 'Report the agent\'s activity from its hook system: reads the hook\'s JSON on stdin; always exits 0, prints nothing.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun agent" -eq 1' -fa 'setup' -d 'Merge mcrun\'s hooks (and Claude Code\'s permission rule) into an agent\'s settings, keeping the person\'s own entries.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun agent report" from' -l 'from' -d 'The agent\'s form of input: claude-code (the hook\'s JSON on stdin; the default), codex (the notify JSON as the last argument), aider (none: its notifications command).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun agent report" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun agent report" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun agent setup" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun agent setup" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun agent setup" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun agent setup" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun agent setup" -eq 1' -fka 'claude-code codex aider'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun agent setup" project' -l 'project' -d 'The project whose .claude/settings.json or .aider.conf.yml to change (default: the current directory).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun agent setup" user' -l 'user' -d 'Change the user\'s settings (~/.claude/settings.json, ~/.codex/config.toml, ~/.aider.conf.yml), for every project.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun agent setup" dry-run' -l 'dry-run' -d 'Print what would change; write nothing.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun agent setup" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun agent setup" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun logs" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun logs" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun logs" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun logs" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun logs" n' -s 'n' -d 'Only the last N lines, 0 to 1000000.' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun logs" f' -s 'f' -d 'Follow: print new output as it arrives.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun logs" raw' -l 'raw' -d 'The raw pane bytes (escape sequences and all) instead of the clean log.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun logs" episode' -l 'episode' -d 'Episode (default: the latest).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun logs" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun logs" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun signal" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun signal" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun signal" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun signal" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun signal" payload' -l 'payload' -d 'A JSON value to carry with the signal (what was done, where the result is).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun signal" summary' -l 'summary' -d 'A one-line summary; stored as {"summary": TEXT}.' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun signal" ticket' -l 'ticket' -d 'Ticket id (default: $MCRUN_TICKET).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun signal" episode' -l 'episode' -d 'Episode (default: $MCRUN_EPISODE).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun signal" nonce' -l 'nonce' -d 'The episode\'s nonce (default: $MCRUN_NONCE; prefer the environment, argv is visible to other users).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun signal" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun signal" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun harvest" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun harvest" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun harvest" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun harvest" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun harvest" episode' -l 'episode' -d 'Episode (default: the latest).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun harvest" harvest-timeout' -l 'harvest-timeout' -d 'Treat a live runtime without pane output for this long as silent (e.g. 30m), 1ms to 8760h; overrides the setting.' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun harvest" lines' -l 'lines' -d 'Lines of transcript tail, 0 to 1000000 (default 50).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun harvest" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun harvest" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun events" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun events" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun events" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun events" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun events" since' -l 'since' -d 'Only events after this id (default 0: from the first).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun events" follow' -l 'follow' -d 'Keep streaming new events.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun events" ticket' -l 'ticket' -d 'Only this ticket\'s events.' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun events"' -l 'kind' -d 'Only events of this kind (repeatable).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun events" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun events" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun event-hooks" -eq 1' -fa 'deliver' -d 'Run the event-hook dispatcher in the foreground (what serve runs); --once flushes and exits.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_positional "mcrun event-hooks" -eq 1' -fa 'list' -d 'Show hook deliveries and every attempt: pending, delivered or failed.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks deliver" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks deliver" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks deliver" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks deliver" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks deliver" hooks-dir' -l 'hooks-dir' -d 'Folder of event hooks (default: $MCRUN_EVENT_HOOKS_DIR, else STATE_DIR/event-hooks.d).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks deliver" timeout' -l 'timeout' -d 'Kill a hook (and its process group) still running after this long, and retry it, 1ms to 24h (default 30s).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks deliver" max-attempts' -l 'max-attempts' -d 'Attempts before a delivery is recorded as failed, 1 to 1000 (default 6).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks deliver" backoff' -l 'backoff' -d 'Backoff after the first failure, doubled after each further one, 0s to 24h (default 1s).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks deliver" max-backoff' -l 'max-backoff' -d 'Longest backoff, 0s to 24h (default 5m).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks deliver" poll' -l 'poll' -d 'How often to look for new events, 10ms to 1h (default 200ms).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks deliver" once' -l 'once' -d 'Deliver everything pending, then exit.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks deliver" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks deliver" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks list" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks list" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks list" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks list" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks list" state' -l 'state' -d 'Only deliveries in this state: pending, delivered or failed.' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks list" event' -l 'event' -d 'Only deliveries of this event id.' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks list" limit' -l 'limit' -d 'At most this many deliveries, newest first, 1 to 100000 (default 100).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks list" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun event-hooks list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun serve" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun serve" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun serve" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun serve" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun serve" reconcile-interval' -l 'reconcile-interval' -d 'Time between full reconcile passes, 50ms to 1h, default 15s (shortened to a quarter of the watchdog interval).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun serve" max-silent-retries' -l 'max-silent-retries' -d 'Unexpected deaths of a ticket that are relaunched silently before it escalates, 0 to 1000 (stored as the host\'s max-silent-retries setting, which every command that records a death uses; default 1).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun serve" retry-delay' -l 'retry-delay' -d 'Delay before a silent relaunch, 0s to 24h (stored as the host\'s retry-delay setting; default 2s).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun serve" launch-timeout' -l 'launch-timeout' -d 'How long a relaunched agent gets to report its identity, 1ms to 1h (default 10s; a bare number is milliseconds).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun serve" hooks-dir' -l 'hooks-dir' -d 'Event hooks folder (default: $MCRUN_EVENT_HOOKS_DIR, else hooks-dir in the configuration file, else STATE_DIR/event-hooks.d).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun serve" metrics-textfile' -l 'metrics-textfile' -d 'After each pass, write `mcrun metrics` to this file (atomically), e.g. for node_exporter\'s textfile collector: /var/lib/prometheus/node-exporter/mcrun.prom.' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun serve" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun serve" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun reset" state-dir' -l 'state-dir' -d 'State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd\'s $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun reset" json' -l 'json' -d 'Print exactly one JSON object (JSON lines for streams) with ok, code and reason.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun reset" actor' -l 'actor' -d 'Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun reset" recreate-ledger' -l 'recreate-ledger' -d 'With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun reset" reason' -l 'reason' -d 'Why (recorded on the reset event).' -rfka ''
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun reset" version' -l 'version' -d 'Show the version.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun reset" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'mcrun' -n '__mcrun_should_offer_completions_for_flags_or_options "mcrun help" version' -l 'version' -d 'Show the version.'
