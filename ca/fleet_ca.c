/* fleet_ca.c - the fleet-ca CLI (being written) */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "fleet-ca: not implemented yet\n");
    return 1;
}
