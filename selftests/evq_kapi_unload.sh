#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Unloading evq and evq_testmod in either order while counters are open and
# referenced from the kernel. Sourced by scripts/guest/tests (uses its
# check/ok/not_ok) in /payload, with evq and evq_testmod loaded; leaves evq
# loaded and evq_testmod unloaded.
#
# What must happen: evq_testmod links against evq's exported symbols, so
# rmmod evq is refused while evq_testmod is loaded, whatever counters are
# open; rmmod evq_testmod always works (its sessions are closed) and puts
# the counters it holds, freeing those whose files are closed already; evq
# then unloads once no counter file is open.

kapi_loaded() { grep -q "^$1 " /proc/modules; }

# kapi_refused NAME MODULE: rmmod MODULE must fail and leave it loaded.
kapi_refused() {
	kapi_out=$(rmmod "$2" 2>&1)
	kapi_status=$?
	echo "evq: rmmod $2: status $kapi_status: $kapi_out"
	check "$1" sh -c "[ $kapi_status -ne 0 ] && grep -q '^$2 ' /proc/modules"
}

# kapi_count_positive NAME FD: the counter on FD has a count above zero
# (the test module signals on HOLD and then every millisecond).
kapi_count_positive() {
	kapi_n=$(./evq_kapi_ctl count "$2")
	echo "evq: count of fd $2: $kapi_n"
	check "$1" sh -c "[ '${kapi_n:-0}' -gt 0 ] 2>/dev/null"
}

if kapi_loaded evq_testmod; then
	# Order 1: evq first, refused, then evq_testmod, then evq.
	exec 4<>/dev/evq
	check kapi.unload.hold_open_counter ./evq_kapi_ctl hold 4
	kapi_refused kapi.unload.evq_refused_while_testmod_holds evq
	kapi_count_positive kapi.unload.held_counter_signalled 4
	exec 4>&-
	# Now the counter lives only through evq_testmod's reference.
	kapi_refused kapi.unload.evq_refused_after_file_closed evq
	exec 4<>/dev/evq
	check kapi.unload.evq_still_works_after_refusal ./evq_kapi_ctl hold 4
	kapi_count_positive kapi.unload.second_counter_signalled 4
	exec 4>&-
	check kapi.unload.testmod_unloads_holding_closed_counters \
		rmmod evq_testmod
	check kapi.unload.evq_unloads_after_testmod rmmod evq

	# Order 2: evq_testmod first while a held counter is open, then evq.
	check kapi.unload.reload_evq insmod ./evq.ko
	check kapi.unload.reload_testmod insmod ./evq_testmod.ko
	exec 4<>/dev/evq
	check kapi.unload.hold_again ./evq_kapi_ctl hold 4
	check kapi.unload.testmod_unloads_with_counter_open rmmod evq_testmod
	kapi_count_positive kapi.unload.counter_usable_after_testmod_gone 4
	kapi_refused kapi.unload.evq_refused_while_counter_open evq
	exec 4>&-
	check kapi.unload.evq_unloads_after_close rmmod evq
	check kapi.unload.reload_evq_for_the_rest insmod ./evq.ko
else
	not_ok kapi.unload "evq_testmod is not loaded"
fi
